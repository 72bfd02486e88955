"""Shared pieces of the attack tests."""

from html.parser import HTMLParser

from django.core import mail

# Breaks out of an attribute and opens a tag, and opens a script: each must reach a page or an
# HTML email only as text.
XSS = '"><img src=x onerror=alert(1)><script>alert(1)</script>'
# A valid email address by RFC 5321 (a quoted local part), and by Django's validator.
XSS_EMAIL = '"<script>alert(1)</script>"@example.org'


class _Markup(HTMLParser):
    """Collects what would run in a browser: event handlers, scripts, javascript: URLs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            value = (value or "").strip().lower()
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction") and value.startswith(
                ("javascript:", "data:text", "vbscript:")
            ):
                self.problems.append(f"<{tag} {name}={value}>")
        if tag == "script" and not dict(attrs).get("src", "").startswith("/static/"):
            self.problems.append("<script> without a local src")
        if tag in ("iframe", "object", "embed", "img") and dict(attrs).get("src") == "x":
            self.problems.append(f"<{tag} src=x>")


def assert_inert(html: str, where: str = "") -> None:
    """No attacker markup survives as markup: only escaped text may remain."""
    parser = _Markup()
    parser.feed(html)
    assert not parser.problems, f"{parser.problems} in {where or 'the page'}"


def assert_mail_inert() -> None:
    """Every HTML part in the outbox is inert, and no header holds a line break."""
    assert mail.outbox, "no email was sent"
    for message in mail.outbox:
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                assert_inert(content, f"the HTML part of {message.subject!r}")
        raw = message.message()
        for name, value in raw.items():
            assert "\n" not in str(value).replace("\n ", "").replace("\n\t", ""), name
        for header in ("Bcc", "Cc"):
            assert raw[header] is None or "evil" not in str(raw[header])
