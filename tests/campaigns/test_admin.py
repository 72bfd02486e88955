import pytest
from django.contrib.auth.models import Group

from campaigns.models import Campaign
from letters.groups import ORGANIZERS, STAFF, groups_ensure
from tests.factories import CampaignFactory, UserFactory

pytestmark = pytest.mark.django_db


def change_form_data(campaign, **overrides):
    data = {
        "slug": campaign.slug,
        "status": campaign.status,
        "default_language": "en",
        "title_en": campaign.title_en,
        "title_fr": campaign.title_fr,
        "summary_en": campaign.summary_en,
        "summary_fr": campaign.summary_fr,
        "body_en": campaign.body_en,
        "body_fr": campaign.body_fr,
        "letter_subjects_en": campaign.letter_subjects_en,
        "letter_subjects_fr": campaign.letter_subjects_fr,
        "letter_template_en": campaign.letter_template_en,
        "letter_template_fr": campaign.letter_template_fr,
        "personal_prompt_en": "",
        "personal_prompt_fr": "",
        "thanks_text_en": "",
        "thanks_text_fr": "",
        "share_text_en": "",
        "share_text_fr": "",
        "editing_mode": campaign.editing_mode,
        "target_roles": ["mayor", "councillor"],
        "recipient_scope": campaign.recipient_scope,
        "send_mode": campaign.send_mode,
        "schedule": campaign.schedule,
        "clerk_mode": campaign.clerk_mode,
        "clerk_agenda_item": "",
        "requires_confirmation": "on",
        "goal": "500",
        "press_name": "",
        "press_phone": "",
        "press_email": "",
        "sender_name": "Org",
        "sender_email": "letters@example.org",
        "retention_days": "365",
        "prompts-TOTAL_FORMS": "0",
        "prompts-INITIAL_FORMS": "0",
        "citations-TOTAL_FORMS": "0",
        "citations-INITIAL_FORMS": "0",
        "talking_points-TOTAL_FORMS": "0",
        "talking_points-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_an_admin_edit_of_the_copy_shows_on_the_page(staff_client, client):
    campaign = CampaignFactory(title_en="Old headline")
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"
    response = staff_client.post(url, change_form_data(campaign, title_en="New headline"))
    assert response.status_code == 302, response.content.decode()[:3000]
    html = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "New headline" in html
    assert "Old headline" not in html


def test_the_admin_names_invalid_placeholders(staff_client):
    campaign = CampaignFactory()
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"
    response = staff_client.post(
        url, change_form_data(campaign, letter_template_en="Dear {councillor}")
    )
    assert response.status_code == 200
    assert "Unknown placeholders: {councillor}" in response.content.decode()
    campaign.refresh_from_db()
    assert "{councillor}" not in campaign.letter_template_en


def test_the_admin_records_who_changed_what(staff_client, staff_user):
    campaign = CampaignFactory(title_en="Old headline")
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"
    staff_client.post(url, change_form_data(campaign, title_en="New headline"))
    record = Campaign.history.filter(id=campaign.pk).first()
    assert record.history_user == staff_user
    assert record.title_en == "New headline"
    history = staff_client.get(f"/admin/campaigns/campaign/{campaign.pk}/history/")
    assert history.status_code == 200
    assert "organizer" in history.content.decode()


def test_the_admin_lists_and_filters_campaigns(staff_client):
    CampaignFactory(title_en="Listed one", status=Campaign.Status.DRAFT)
    response = staff_client.get("/admin/campaigns/campaign/?status__exact=draft")
    assert response.status_code == 200
    assert "Listed one" in response.content.decode()


def test_view_on_site_points_to_the_public_page(staff_client):
    campaign = CampaignFactory(status=Campaign.Status.DRAFT)
    response = staff_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert "View on site" in response.content.decode()
    assert staff_client.get(f"/campaigns/{campaign.slug}/").status_code == 200


def test_anonymous_users_cannot_reach_the_campaign_admin(client):
    campaign = CampaignFactory()
    response = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_campaign_admin_loads_nothing_from_third_parties(staff_client):
    import re

    campaign = CampaignFactory()
    html = staff_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert any("jquery-ui.min.js" in source for source in sources)
    assert [source for source in sources if source.startswith(("http", "//"))] == []


def member_client(client, group_name):
    groups_ensure()
    member = UserFactory(is_staff=True, username=group_name.lower())
    member.groups.add(Group.objects.get(name=group_name))
    client.force_login(member)
    return client


def first_version_url(campaign):
    campaign.title_en = "Current headline"
    campaign.save()
    first = campaign.history.earliest()
    return f"/admin/campaigns/campaign/{campaign.pk}/history/{first.history_id}/"


def test_staff_cannot_rewrite_a_campaign_through_its_history(client):
    member_client(client, STAFF)
    campaign = CampaignFactory(title_en="First headline")
    url = first_version_url(campaign)

    page = client.get(url)
    response = client.post(url, change_form_data(campaign, title_en="Rewritten by staff"))

    assert page.status_code == 200
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.title_en == "Current headline"


def test_organizers_save_an_old_version_of_a_campaign(client):
    member_client(client, ORGANIZERS)
    campaign = CampaignFactory(title_en="First headline")
    url = first_version_url(campaign)

    response = client.post(url, change_form_data(campaign, title_en="First headline"))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.title_en == "First headline"
