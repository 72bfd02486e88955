from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

from campaigns.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path(settings.ADMIN_URL, admin.site.urls),
]

# English at /campaigns/<slug>/, French at /fr/campaigns/<slug>/.
    # ESP webhooks: /anymail/<esp>/tracking/, authenticated by ANYMAIL_WEBHOOK_SECRET.
    path("anymail/", include("anymail.urls")),
urlpatterns += i18n_patterns(
    path("", include("campaigns.urls")),
    prefix_default_language=False,
)

admin.site.site_header = "Council Letters"
admin.site.site_title = "Council Letters"
