from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

from letters.groups import ORGANIZERS, SIGNER_EXPORT, STAFF, groups_ensure
from tests.factories import CampaignFactory, UserFactory

pytestmark = pytest.mark.django_db


def _member(group_name: str):
    groups_ensure()
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return user


def test_it_creates_the_three_groups_idempotently():
    groups_ensure()
    first = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    groups_ensure()
    second = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}
    assert set(first) == {ORGANIZERS, STAFF, SIGNER_EXPORT}
    assert first == second
    assert Group.objects.count() == 3


def test_it_takes_back_a_permission_added_by_hand():
    staff = groups_ensure()[STAFF]
    staff.permissions.add(Permission.objects.get(codename="export_signers"))
    groups_ensure()
    assert not staff.permissions.filter(codename="export_signers").exists()


def test_organizers_edit_campaigns_and_the_directory_but_export_nobody():
    user = _member(ORGANIZERS)
    assert user.has_perm("campaigns.change_campaign")
    assert user.has_perm("campaigns.add_talkingpoint")
    # The prompts for residents' own words are campaign copy too (an inline of the campaign).
    assert user.has_perm("campaigns.add_campaignprompt")
    assert user.has_perm("campaigns.change_campaignprompt")
    assert user.has_perm("councils.change_representative")
    assert user.has_perm("councils.add_municipality")
    assert not user.has_perm("letters.export_signers")


def test_organizers_see_residents_personal_data_to_moderate_letters():
    user = _member(ORGANIZERS)
    assert user.has_perm("letters.view_personal_data")
    assert user.has_perm("letters.add_blockedsender")
    assert user.has_perm("letters.change_delivery")


def test_staff_see_counts_and_letters_but_edit_nothing_and_export_nobody():
    user = _member(STAFF)
    assert user.has_perm("letters.view_letter")
    assert user.has_perm("letters.view_delivery")
    assert not user.has_perm("campaigns.change_campaign")
    assert not user.has_perm("councils.change_representative")
    assert not user.has_perm("letters.change_letter")
    assert not user.has_perm("letters.export_signers")


def test_staff_see_no_personal_data_and_change_nothing_in_letters():
    user = _member(STAFF)
    assert not user.has_perm("letters.view_personal_data")
    assert not user.has_perm("letters.add_blockedsender")
    assert not user.has_perm("letters.change_delivery")
    assert not user.has_perm("letters.view_outboxmessage")


def test_signer_export_is_its_own_group():
    user = _member(SIGNER_EXPORT)
    assert user.has_perm("letters.export_signers")
    assert not user.has_perm("campaigns.change_campaign")


def test_staff_member_gets_counts_but_not_the_signer_download(client):
    campaign = CampaignFactory()
    client.force_login(_member(STAFF))
    assert client.get(reverse("admin:letters_counts", args=[campaign.pk])).status_code == 200
    response = client.get(reverse("admin:letters_signers_csv", args=[campaign.pk]))
    assert response.status_code == 403


def test_signer_export_member_gets_the_signer_download(client):
    campaign = CampaignFactory()
    client.force_login(_member(SIGNER_EXPORT))
    response = client.get(reverse("admin:letters_signers_csv", args=[campaign.pk]))
    assert response.status_code == 200


def test_the_command_reports_the_groups():
    out = StringIO()
    call_command("ensure_groups", stdout=out)
    assert "Organizers" in out.getvalue()
    assert Group.objects.filter(name=SIGNER_EXPORT).exists()


def test_load_demo_creates_the_groups():
    call_command("load_demo", stdout=StringIO())
    assert set(Group.objects.values_list("name", flat=True)) == {ORGANIZERS, STAFF, SIGNER_EXPORT}


def test_only_organizers_write_and_send_campaign_updates():
    organizer = _member(ORGANIZERS)
    assert organizer.has_perm("letters.add_campaignupdate")
    assert organizer.has_perm("letters.change_campaignupdate")
    assert organizer.has_perm("letters.send_campaignupdate")
    staff = _member(STAFF)
    assert staff.has_perm("letters.view_campaignupdate")
    assert not staff.has_perm("letters.change_campaignupdate")
    assert not staff.has_perm("letters.send_campaignupdate")
    assert not _member(SIGNER_EXPORT).has_perm("letters.send_campaignupdate")


def test_staff_read_replies_and_organizers_correct_them():
    staff = _member(STAFF)
    assert staff.has_perm("letters.view_reply")
    assert not staff.has_perm("letters.change_reply")
    organizer = _member(ORGANIZERS)
    assert organizer.has_perm("letters.change_reply")
    assert not organizer.has_perm("letters.delete_reply")
