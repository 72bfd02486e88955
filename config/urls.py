from anymail.urls import urlpatterns as anymail_every_esp
from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from campaigns.views import favicon, healthz, language_choose
from letters.views_counts import counts_json


def anymail_urlpatterns(esp: str) -> list:
    """The tracking webhooks of the ESP that sends the mail, /anymail/<esp>/tracking/
    (authenticated by ANYMAIL_WEBHOOK_SECRET, which settings require with an ESP).

    Nothing under SMTP, where no ESP posts events and anyone could forge bounces; nor other
    ESPs' endpoints, which without their keys answer 500; nor inbound mail, which has no use.
    """
    if not esp:
        return []
    own = [
        pattern
        for pattern in anymail_every_esp
        if str(pattern.pattern).startswith(f"{esp}/") and "inbound" not in str(pattern.pattern)
    ]
    return [path("anymail/", include((own, "anymail")))]


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    # The language switch: no prefix, it serves both languages.
    path("language/<str:language_code>/", language_choose, name="language"),
    # No language prefix: one address for the embeddable counter, whatever the language.
    path("campaigns/<slug:slug>/counts.json", counts_json, name="counts_json"),
    path(settings.ADMIN_URL, admin.site.urls),
    *anymail_urlpatterns(settings.ANYMAIL_ESP),
]

# English at /campaigns/<slug>/, French at /fr/campaigns/<slug>/.
urlpatterns += i18n_patterns(
    # letters first: it serves the campaign page, which carries the letter form.
    path("", include("letters.urls")),
    path("", include("campaigns.urls")),
    prefix_default_language=False,
)

# The product's name, "Lettres au conseil" in a French admin.
admin.site.site_header = _("Council Letters")
admin.site.site_title = _("Council Letters")
