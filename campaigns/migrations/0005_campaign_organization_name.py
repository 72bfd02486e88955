# The campaign's "sending name" becomes its organization name: translated (EN/FR), optional
# (empty: the site's ORGANIZATION_NAME), and used in the consent wording, the From names and
# the footer (Campaign.organization).

from django.db import migrations, models

HELP_TEXT = (
    "Who runs this campaign: named in the consent residents give, in the sender of letters "
    "(“First Last via <organization>”) and emails, and at the foot of its pages. Empty: the "
    "site's organization."
)
# The product's own name, which the demo campaign used as its sending name: such a campaign
# now follows the site's name instead, which is "Lettres au conseil" in French.
PRODUCT_NAME = "Council Letters"


def field(**extra):
    return models.CharField(
        blank=True,
        help_text=HELP_TEXT,
        max_length=100,
        verbose_name="organization name",
        **extra,
    )


def names_to_english(apps, schema_editor):
    for model in ("Campaign", "HistoricalCampaign"):
        Model = apps.get_model("campaigns", model)
        Model.objects.filter(organization_name=PRODUCT_NAME).update(organization_name="")
        Model.objects.update(organization_name_en=models.F("organization_name"))


def names_back(apps, schema_editor):
    for model in ("Campaign", "HistoricalCampaign"):
        Model = apps.get_model("campaigns", model)
        Model.objects.update(
            organization_name=models.functions.Coalesce(
                models.functions.NullIf("organization_name_en", models.Value("")),
                models.Value(PRODUCT_NAME),
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_followups"),
    ]

    operations = [
        migrations.RenameField("campaign", "sender_name", "organization_name"),
        migrations.RenameField("historicalcampaign", "sender_name", "organization_name"),
        migrations.AlterField("campaign", "organization_name", field()),
        migrations.AlterField("historicalcampaign", "organization_name", field()),
        migrations.AddField("campaign", "organization_name_en", field(null=True)),
        migrations.AddField("campaign", "organization_name_fr", field(null=True)),
        migrations.AddField("historicalcampaign", "organization_name_en", field(null=True)),
        migrations.AddField("historicalcampaign", "organization_name_fr", field(null=True)),
        migrations.RunPython(names_to_english, names_back),
    ]
