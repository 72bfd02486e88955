from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LettersConfig(AppConfig):
    name = "letters"
    verbose_name = _("Letters")

    def ready(self):
        # Connects the anymail tracking receiver (ESP webhooks -> delivery status) and clears
        # the cached counts.json on campaign edits.
        from . import caching, webhooks  # noqa: F401
