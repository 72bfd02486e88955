"""The local outbox in the admin: the text part with its links clickable, the HTML part in a
sandboxed frame served under a policy of its own, both only with personal-data rights."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from letters.groups import STAFF, groups_ensure
from letters.models import OutboxMessage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CONFIRM_URL = "http://127.0.0.1:8100/letters/abc123/confirm/"


@pytest.fixture
def kept():
    return OutboxMessage.objects.create(
        from_email='"Privacy Org" <letters@example.org>',
        to="jane@example.org",
        subject="Confirm your letter",
        body=f"Hello Jane,\n\nOpen this link:\n{CONFIRM_URL}\n\n<b>not bold</b> & Co",
        html=(
            "<!doctype html><html><body><p style='color: #333'>Hello Jane,</p>"
            f'<p><a href="{CONFIRM_URL}">Send my letter</a></p>'
            "<script>document.title = 'ran'</script></body></html>"
        ),
        raw="Content-Type: multipart/alternative\n\n<p>Hello Jane,</p>",
    )


def change_url(message):
    return reverse("admin:letters_outboxmessage_change", args=[message.pk])


def html_url(message):
    return reverse("admin:letters_outboxmessage_html", args=[message.pk])


def policy(response) -> dict[str, str]:
    parts = [part.strip() for part in response["Content-Security-Policy"].split(";")]
    return {part.split(" ")[0]: part.partition(" ")[2] for part in parts if part}


def test_the_text_part_shows_its_links_clickable_and_the_rest_escaped(staff_client, kept):
    html = staff_client.get(change_url(kept)).content.decode()

    assert f'<a href="{CONFIRM_URL}" rel="nofollow">{CONFIRM_URL}</a>' in html
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; Co" in html
    assert "<b>not bold</b>" not in html


def test_the_html_part_shows_in_a_sandboxed_frame_not_as_a_dump(staff_client, kept):
    html = staff_client.get(change_url(kept)).content.decode()

    assert f'<iframe class="outbox-html" sandbox="" src="{html_url(kept)}"' in html
    assert "<script>document.title" not in html
    assert "&lt;script&gt;document.title" not in html  # not dumped as text either
    # The raw message stays available, folded and escaped.
    assert "<details><summary>Show the raw message</summary>" in html
    assert "&lt;p&gt;Hello Jane,&lt;/p&gt;" in html


def test_a_message_without_html_shows_no_frame(staff_client, kept):
    OutboxMessage.objects.filter(pk=kept.pk).update(html="")

    assert b"<iframe" not in staff_client.get(change_url(kept)).content


def test_the_frame_content_is_the_html_part_under_a_strict_policy(staff_client, kept):
    response = staff_client.get(html_url(kept))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response.content.decode() == kept.html
    assert policy(response) == {
        "default-src": "'none'",
        "img-src": "data:",
        "style-src": "'unsafe-inline'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'self'",
        "sandbox": "",
    }
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "no-store" in response["Cache-Control"]


def test_the_rest_of_the_admin_keeps_the_sites_policy(staff_client, kept):
    response = staff_client.get(change_url(kept))

    assert policy(response)["frame-ancestors"] == "'none'"
    assert policy(response)["script-src"] == "'self'"
    assert response["X-Frame-Options"] == "DENY"


def test_staff_without_the_personal_data_permission_get_403(client, kept):
    groups_ensure()
    user = UserFactory(is_staff=True, username="staff-member")
    user.groups.add(Group.objects.get(name=STAFF))
    client.force_login(user)

    assert client.get(html_url(kept)).status_code == 403


def test_the_outbox_view_permission_alone_is_not_enough(client, kept):
    user = UserFactory(is_staff=True, username="mail-reader")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="letters", codename="view_outboxmessage")
    )
    client.force_login(user)

    assert client.get(html_url(kept)).status_code == 403


def test_a_user_with_both_permissions_reads_the_html_part(client, kept):
    user = UserFactory(is_staff=True, username="mail-reader")
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="letters",
            codename__in=["view_outboxmessage", "view_personal_data"],
        )
    )
    client.force_login(user)

    assert client.get(html_url(kept)).status_code == 200


def test_anonymous_visitors_are_sent_to_the_login(client, kept):
    response = client.get(html_url(kept))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_an_unknown_message_is_404(staff_client, kept):
    response = staff_client.get(reverse("admin:letters_outboxmessage_html", args=[kept.pk + 1]))

    assert response.status_code == 404


def test_the_html_part_rejects_post(staff_client, kept):
    assert staff_client.post(html_url(kept)).status_code == 405
