"""Letters written before 0013 have no fingerprint of their personal part, so the letters
written since were never compared with them. Give each one whose message is still there
(not erased) its signature and band keys, as letters.services does for a new letter.

Their own near-identical flag stays as it was: it records what the check found when the
letter was sent. The fingerprint is a pure function of the text (letters.near_duplicates),
which keeps no per-process seed, so signatures made here compare with those made later.
"""

from django.db import migrations

from letters import near_duplicates

BATCH = 500


def fingerprint_older_letters(apps, schema_editor):
    Letter = apps.get_model("letters", "Letter")
    PersonalPartBand = apps.get_model("letters", "PersonalPartBand")
    older = (
        Letter.objects.filter(personal_signature=[], purged_at__isnull=True)
        .exclude(personal_message="")
        .only("pk", "municipality_id", "personal_message")
        .order_by("pk")
    )
    letters, bands = [], []
    for letter in older.iterator(chunk_size=BATCH):
        fingerprint = near_duplicates.fingerprint(letter.personal_message)
        if fingerprint is None:  # too short to compare, as for a new letter
            continue
        letter.personal_signature = fingerprint.signature
        letters.append(letter)
        bands += [
            PersonalPartBand(letter_id=letter.pk, municipality_id=letter.municipality_id, key=key)
            for key in fingerprint.band_keys
        ]
        if len(letters) >= BATCH:
            _save(Letter, PersonalPartBand, letters, bands)
            letters, bands = [], []
    _save(Letter, PersonalPartBand, letters, bands)


def _save(Letter, PersonalPartBand, letters, bands):
    Letter.objects.bulk_update(letters, ["personal_signature"])
    PersonalPartBand.objects.bulk_create(bands)


class Migration(migrations.Migration):
    dependencies = [
        ("letters", "0016_counted_index_own_words"),
    ]

    operations = [
        migrations.RunPython(fingerprint_older_letters, migrations.RunPython.noop),
    ]
