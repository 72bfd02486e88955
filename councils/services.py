"""Writes to the council directory that enforce a rule or have a side effect: the postal-code
lookup's cache of Represent answers, and clearing representatives' bounces."""

from django.utils import timezone

from .models import Municipality, PostcodeAnswer, Ward


def postcode_answer_store(
    *, postal_code: str, candidates: list[tuple[Municipality, Ward | None]], province: str
) -> PostcodeAnswer:
    answer, _ = PostcodeAnswer.objects.update_or_create(
        postal_code=postal_code,
        defaults={
            "candidates": [
                {"municipality": m.ocd_id, "ward": w.ocd_id if w else None} for m, w in candidates
            ],
            "province": province or "",
            "fetched_at": timezone.now(),
        },
    )
    return answer


def representatives_reset_bounces(*, representatives) -> int:
    """Clear the hard-bounce count of representatives whose address an organizer has checked
    or corrected, so they are emailed again. Returns how many were reset."""
    return representatives.filter(bounce_count__gt=0).update(bounce_count=0)
