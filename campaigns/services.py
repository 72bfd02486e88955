import json
from pathlib import Path

from django.db import transaction

from .models import Campaign, CampaignPrompt, Citation, TalkingPoint

SEED_DIR = Path(__file__).resolve().parent / "seed"


@transaction.atomic
def campaign_load_seed(*, path: Path) -> tuple[Campaign, bool]:
    """Create the campaign described by a seed file unless its slug already exists.

    An existing campaign is left alone, so organizers' edits in the admin survive `make run`.
    Returns (campaign, created). Raises ValidationError when the seed breaks a model rule.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    existing = Campaign.objects.filter(slug=data["campaign"]["slug"]).first()
    if existing:
        return existing, False

    campaign = Campaign(**data["campaign"])
    campaign.full_clean()
    campaign.save()
    for order, item in enumerate(data.get("prompts", []), 1):
        prompt = CampaignPrompt(campaign=campaign, order=order, **item)
        prompt.full_clean()
        prompt.save()
    citations = {}
    for order, item in enumerate(data.get("citations", []), 1):
        fields = {key: value for key, value in item.items() if key != "key"}
        citation = Citation(campaign=campaign, order=order, **fields)
        citation.full_clean()
        citation.save()
        citations[item["key"]] = citation
    for order, item in enumerate(data.get("talking_points", []), 1):
        fields = {key: value for key, value in item.items() if key != "citation"}
        point = TalkingPoint(
            campaign=campaign, order=order, citation=citations.get(item.get("citation")), **fields
        )
        point.full_clean()
        point.save()
    return campaign, True
