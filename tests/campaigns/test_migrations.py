"""Migration 0005_campaign_organization_name: the "sending name" becomes the campaign's
English organization name, except the product's own name, which now follows the site's.

The suite runs with --nomigrations, so this test loads the real migrations itself (as
tests/letters/test_migrations.py does).
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from campaigns.models import Campaign

BEFORE = [("campaigns", "0004_followups")]
AFTER = [("campaigns", "0005_campaign_organization_name")]


def newest():
    """The newest campaigns migration (0005 or later): checks that read through today's
    models need the database to have every column they have."""
    graph = MigrationExecutor(connection).loader.graph
    return [node for node in graph.leaf_nodes() if node[0] == "campaigns"]


@pytest.fixture
def migrate(settings):
    settings.MIGRATION_MODULES = {}
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    MigrationExecutor(connection).migrate(latest, fake=True)

    def migrate_to(targets):
        executor = MigrationExecutor(connection)
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    yield migrate_to
    migrate_to(latest)
    MigrationRecorder(connection).migration_qs.all().delete()


def old_campaign(apps, slug, sender_name):
    return apps.get_model("campaigns", "Campaign").objects.create(
        slug=slug,
        title="T",
        title_en="T",
        letter_subjects_en="S",
        letter_template_en="L",
        sender_name=sender_name,
        sender_email="letters@example.org",
    )


@pytest.mark.django_db(transaction=True)
def test_0003_keeps_each_sending_name_as_the_english_organization_name(migrate):
    old = migrate(BEFORE)
    old_campaign(old, "own", "Privacy Org")
    old_campaign(old, "demo", "Council Letters")

    migrate(newest())

    own, demo = Campaign.objects.get(slug="own"), Campaign.objects.get(slug="demo")
    assert (own.organization_name_en, own.organization("fr")) == ("Privacy Org", "Privacy Org")
    assert demo.organization_name_en == ""
    assert (demo.organization("en"), demo.organization("fr")) == (
        "Council Letters",
        "Lettres au conseil",
    )


@pytest.mark.django_db(transaction=True)
def test_0003_goes_back_to_a_sending_name(migrate):
    new = migrate(AFTER)
    Campaign_ = new.get_model("campaigns", "Campaign")
    for slug, name in (("own", "Privacy Org"), ("unnamed", "")):
        Campaign_.objects.create(
            slug=slug,
            title_en="T",
            letter_subjects_en="S",
            letter_template_en="L",
            organization_name_en=name,
            sender_email="letters@example.org",
        )

    old = migrate(BEFORE)

    names = dict(old.get_model("campaigns", "Campaign").objects.values_list("slug", "sender_name"))
    assert names == {"own": "Privacy Org", "unnamed": "Council Letters"}
