import simple_history
from modeltranslation.translator import TranslationOptions, register

from .models import Campaign, CampaignPrompt, Citation, TalkingPoint


@register(Campaign)
class CampaignTranslationOptions(TranslationOptions):
    fields = (
        "title",
        "summary",
        "body",
        "letter_subjects",
        "letter_template",
        "personal_prompt",
        "thanks_text",
        "share_text",
        "organization_name",
    )
    # Required in English unless blank on the model (the organization name may be empty).
    required_languages = ("en",)


@register(TalkingPoint)
class TalkingPointTranslationOptions(TranslationOptions):
    fields = ("text",)
    required_languages = ("en",)


@register(CampaignPrompt)
class CampaignPromptTranslationOptions(TranslationOptions):
    fields = ("text",)
    required_languages = ("en",)


@register(Citation)
class CitationTranslationOptions(TranslationOptions):
    fields = ("title",)


# Registered here, after modeltranslation, so the history tables get the _en/_fr columns too
# (HistoricalRecords on the model itself breaks with modeltranslation).
simple_history.register(Campaign, app=__package__)
simple_history.register(TalkingPoint, app=__package__)
simple_history.register(Citation, app=__package__)
simple_history.register(CampaignPrompt, app=__package__)
