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
