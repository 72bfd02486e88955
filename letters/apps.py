from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LettersConfig(AppConfig):
    name = "letters"
    verbose_name = _("Letters")

    def ready(self):
        # Connects the anymail tracking receiver (ESP webhooks -> delivery status) and
        # registers the delivery settings checks.
        from . import checks, webhooks  # noqa: F401
        # Clears the cached counts.json when a campaign is edited.
        from . import caching  # noqa: F401
