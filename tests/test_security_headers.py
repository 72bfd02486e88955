import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def test_public_pages_send_a_strict_content_security_policy(client):
    campaign = CampaignFactory()
    response = client.get(f"/campaigns/{campaign.slug}/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_no_template_has_an_inline_script_or_style_attribute():
    offenders = []
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<script\b([^>]*)>", text):
            if "src=" not in match.group(1) and "application/json" not in match.group(1):
                offenders.append(f"{path}: inline <script>")
        if re.search(r"\sstyle=\"", text):
            offenders.append(f"{path}: style attribute")
        if re.search(r"\son[a-z]+=\"", text):
            offenders.append(f"{path}: inline event handler")
    assert offenders == []
