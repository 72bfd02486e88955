"""The README's Configuration table names every environment variable the settings read, so an
operator never has to read config/ to find a knob."""

import re
from pathlib import Path

from django.conf import settings

READS = re.compile(r'(?:env_\w+\(|environ\.get\(|environ\[|getenv\()"([A-Z][A-Z0-9_]+)"')


def test_every_environment_variable_the_settings_read_is_in_the_readme():
    config = Path(settings.BASE_DIR, "config")
    read = {name for path in config.glob("*.py") for name in READS.findall(path.read_text())}
    readme = Path(settings.BASE_DIR, "README.md").read_text()
    table = readme.partition("## Configuration")[2].partition("\n## ")[0]

    assert {"DATABASE_URL", "LETTERS_PER_RECIPIENT_HOUR", "DIGEST_HOUR"} <= read
    assert sorted(name for name in read if f"`{name}`" not in table) == []
