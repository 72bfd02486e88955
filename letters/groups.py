"""The staff permission groups: organizers, staff (counts) and signer export, kept apart.

A superuser adds people to these groups in the admin (Users > Groups); everyone in them also
needs "Staff status" to reach the admin at all.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

ORGANIZERS = "Organizers"
STAFF = "Staff"
SIGNER_EXPORT = "Signer export"

_CRUD = ("add", "change", "delete", "view")

# Each group's permissions as "app_label.codename". Organizers edit campaigns and the council
# directory, block senders and resend failed deliveries; staff see counts, letters and
# deliveries (and replies, without their words) but export nothing personal; the signer export stands alone, so granting it is a
# separate, deliberate act.
#
# letters.view_personal_data (the resident's name, addresses, message and consent in the
# admin): Organizers have it because they moderate letters, and deciding to block a sender
# means reading what they wrote and to which address. Staff do not: counts, statuses and
# delivery health need no names, and each person who can read residents' data is one more
# who can leak it. Staff see a letter's campaign, council, FSA, status and deliveries only.
GROUP_PERMISSIONS: dict[str, list[str]] = {
    ORGANIZERS: [
        *(
            f"campaigns.{action}_{model}"
            for model in ("campaign", "campaignprompt", "citation", "talkingpoint")
            for action in _CRUD
        ),
        *(
            f"councils.{action}_{model}"
            for model in (
                "municipality",
                "ward",
                "representative",
                "postcodeprefix",
                "postcodeanswer",
            )
            for action in _CRUD
        ),
        # Directory imports (uploads and Represent sync changes): organizers review and
        # apply them on their own page, and clear old ones.
        "councils.view_directoryimport",
        "councils.delete_directoryimport",
        # Residents' "Wrong or outdated contact?" reports: organizers act on them.
        "councils.view_contactreport",
        "councils.change_contactreport",
        "councils.delete_contactreport",
        *(f"letters.{action}_blockedsender" for action in _CRUD),
        "letters.view_letter",
        "letters.view_personal_data",
        "letters.view_delivery",
        "letters.view_outgoingmail",
        "letters.change_delivery",
        # Campaign updates: organizers write them and alone send them (once) to the residents
        # who asked to be kept updated.
        *(f"letters.{action}_campaignupdate" for action in _CRUD),
        "letters.send_campaignupdate",
        # What residents reported of council's replies: organizers correct a mistaken answer.
        "letters.view_reply",
        "letters.change_reply",
    ],
    STAFF: [
        "campaigns.view_campaign",
        "campaigns.view_citation",
        "campaigns.view_talkingpoint",
        "campaigns.view_campaignprompt",
        "councils.view_municipality",
        "councils.view_ward",
        "councils.view_representative",
        "councils.view_contactreport",
        "letters.view_letter",
        "letters.view_delivery",
        "letters.view_outgoingmail",
        "letters.view_signerexportlog",
        "letters.view_campaignupdate",
        "letters.view_reply",
    ],
    SIGNER_EXPORT: [
        "letters.export_signers",
        "letters.view_signerexportlog",
    ],
}


class PermissionMissing(Exception):
    """A permission named in GROUP_PERMISSIONS does not exist (run migrate first)."""


def _permission_get(name: str) -> Permission:
    app_label, codename = name.split(".", 1)
    try:
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)
    except Permission.DoesNotExist as exc:
        raise PermissionMissing(name) from exc


def groups_ensure() -> dict[str, Group]:
    """Create the three groups and set each one's permissions to exactly GROUP_PERMISSIONS.

    Idempotent: running it again changes nothing, and it takes back a permission someone
    added to one of these groups by hand. Raises PermissionMissing when a permission does not
    exist yet.
    """
    groups = {}
    with transaction.atomic():
        for name, permission_names in GROUP_PERMISSIONS.items():
            group, _created = Group.objects.get_or_create(name=name)
            group.permissions.set([_permission_get(p) for p in dict.fromkeys(permission_names)])
            groups[name] = group
    return groups


def organizer_addresses() -> list[str]:
    """Where to tell organizers something needs them (a council blocking our mail): every
    active member of the Organizers group, and every superuser, with an email address."""
    users = (
        get_user_model()
        .objects.filter(Q(groups__name=ORGANIZERS) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
    )
    return sorted({email.strip().lower() for email in users.values_list("email", flat=True)})
