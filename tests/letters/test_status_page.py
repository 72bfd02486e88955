"""The resident's status page shows each recipient's delivery status, in their language."""

import pytest
from django.utils import timezone

from letters.models import Delivery
from tests.letters.delivery_helpers import make_letter

pytestmark = pytest.mark.django_db


def test_it_shows_each_recipient_and_status(client):
    letter = make_letter(recipients=3)
    sent, bounced, unreachable = letter.deliveries.order_by("pk")
    Delivery.objects.filter(pk=sent.pk).update(
        status=Delivery.Status.DELIVERED, delivered_at=timezone.now()
    )
    Delivery.objects.filter(pk=bounced.pk).update(status=Delivery.Status.BOUNCED)
    Delivery.objects.filter(pk=unreachable.pk).update(status=Delivery.Status.NO_EMAIL)
    bounced.representative.phone = "613-555-0100"
    bounced.representative.save()

    response = client.get(f"/letters/{letter.token}/")

    assert response.status_code == 200
    content = response.content.decode()
    for delivery in (sent, bounced, unreachable):
        assert delivery.recipient_label in content
    assert "Delivered" in content
    assert "Bounced" in content
    assert "Reach them another way" in content
    assert 'href="tel:+16135550100"' in content


def test_it_speaks_french_under_the_french_address(client):
    letter = make_letter(recipients=1, language="fr")

    response = client.get(f"/fr/letters/{letter.token}/")

    assert response.status_code == 200
    assert '<html lang="fr"' in response.content.decode()


def test_it_is_404_for_an_unknown_token(client):
    assert client.get("/letters/not-a-token/").status_code == 404


def test_it_links_to_delete_my_data_as_the_copy_does(client):
    letter = make_letter(recipients=1)
    html = client.get(f"/letters/{letter.token}/").content.decode()
    assert f'href="/letters/{letter.token}/delete/"' in html
    assert "Delete your personal data" in html
    french = client.get(f"/fr/letters/{letter.token}/").content.decode()
    assert f'href="/fr/letters/{letter.token}/delete/"' in french


def test_an_erased_letter_has_nothing_left_to_delete(client):
    from letters.services import letter_delete_request

    letter = letter_delete_request(letter=make_letter(recipients=1))
    html = client.get(f"/letters/{letter.token}/").content.decode()
    assert f"/letters/{letter.token}/delete/" not in html


def test_the_recipients_are_named_without_repeating_their_title(client):
    letter = make_letter(recipients=1)
    letter.deliveries.update(recipient_name="Mayor of Toronto", recipient_role="Mayor")
    html = client.get(f"/letters/{letter.token}/").content.decode()
    assert "<td> Mayor of Toronto <br>" in " ".join(html.split())
    assert "Mayor of Toronto, Mayor" not in html
