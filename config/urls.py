from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

from campaigns.views import healthz
from letters.views_counts import counts_json

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # No language prefix: one address for the embeddable counter, whatever the language.
    path("campaigns/<slug:slug>/counts.json", counts_json, name="counts_json"),
    path(settings.ADMIN_URL, admin.site.urls),
    # ESP webhooks: /anymail/<esp>/tracking/, authenticated by ANYMAIL_WEBHOOK_SECRET.
    path("anymail/", include("anymail.urls")),
]

# English at /campaigns/<slug>/, French at /fr/campaigns/<slug>/.
urlpatterns += i18n_patterns(
    # letters first: it serves the campaign page, which carries the letter form.
    path("", include("letters.urls")),
    path("", include("campaigns.urls")),
    prefix_default_language=False,
)

admin.site.site_header = "Council Letters"
admin.site.site_title = "Council Letters"
