"""The resident's journey: campaign page → council → letter → preview → send → thanks.

Everything works without JavaScript. What the resident typed lives in the session between
steps (the "draft"), so no error or round trip through the preview loses it.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from campaigns.caching import PAGE_CACHE_SECONDS
from campaigns.selectors import campaign_get_for_viewer, campaign_page_context
from councils.models import Municipality, Representative
from councils.services import postcode_lookup

from . import drafts, pages, replies_and_updates, services
from .forms import ContactReportForm, MunicipalitySearchForm, PostalCodeForm
from .models import Letter
from .selectors import (
    RESPONSIVENESS_CAVEAT,
    SENT_STATUSES,
    campaign_responsiveness,
    letter_get_by_confirmation_token,
    letter_get_by_token,
    letter_get_for_unsubscribe,
)


@require_safe
def campaign(request, slug):
    """The campaign page with step 1. Its postal-code form is a GET, so the page sets no
    session and no CSRF cookie: a first-time visitor (no cookie at all) gets the page every
    first-time visitor gets, and it says so (max-age), so Django's site cache keeps it and
    serves it before the rest of the middleware (config/settings.py MIDDLEWARE); an
    organizer's edit clears it (campaigns.caching). Anyone else gets it rendered for them:
    the page varies on Cookie, and one rendered for cookies is never kept."""
    response = _campaign_page(request, slug)
    patch_vary_headers(response, ("Cookie",))
    if not request.COOKIES:
        patch_cache_control(response, max_age=PAGE_CACHE_SECONDS)
    return response


def _campaign_page(request, slug):
    campaign = campaign_get_for_viewer(slug=slug, user=request.user)
    draft = drafts.draft_get(request, campaign)
    if draft and campaign.phase() == "closed":
        # Closed while this visitor was writing: their letter, to send themselves.
        return _render_campaign(request, campaign, closed_draft=pages.closed_draft(campaign, draft))
    postal_form = PostalCodeForm(initial={"postal_code": draft.get("postal_code", "")})
    return _render_campaign(
        request, campaign, postal_form=postal_form, resume=bool(draft.get("municipality"))
    )


@require_http_methods(["GET", "POST"])
def council(request, slug):
    """Step 1: the postal-code lookup (GET, from the campaign page), then the municipality
    picker (POST: search, show all, pick) when the lookup cannot decide. The lookup keeps only
    its result in this visitor's draft."""
    campaign = campaign_get_for_viewer(slug=slug, user=request.user)
    if not campaign.is_accepting_letters():
        return redirect(campaign)
    data = request.POST if request.method == "POST" else request.GET
    action = data.get("action", "lookup")
    if request.method == "GET" and (action != "lookup" or "postal_code" not in data):
        return redirect(campaign)
    draft = drafts.draft_get(request, campaign)
    try:
        services.draft_write_check(ip=pages.client_ip(request))
    except services.RateLimited:
        return _render_campaign(request, campaign, postal_form=PostalCodeForm(data), status=429)
    search_form = MunicipalitySearchForm(data if action != "lookup" else None)
    if action == "lookup":
        postal_form = PostalCodeForm(data)
        if not postal_form.is_valid():
            return _render_campaign(request, campaign, postal_form=postal_form)
        result = postcode_lookup(postal_code=postal_form.cleaned_data["postal_code"])
        drafts.draft_set_lookup(draft, result)
        if not result.is_decided:
            drafts.draft_save(request, campaign, draft)
            picker = pages.municipality_picker(draft)
            return _render_picker(request, campaign, draft, picker, search_form)
        candidate = result.candidates[0]
        ward_id = candidate.ward.pk if candidate.ward else None
        drafts.draft_set_council(draft, candidate.municipality.pk, ward_id)
    else:
        if not draft.get("postal_code"):
            return redirect(campaign)
        query = search_form.cleaned_data["q"] if search_form.is_valid() else ""
        picker = pages.municipality_picker(
            draft,
            query=query,
            show_all=action == "all" or data.get("all") == "1",
            data=data if action == "pick" else None,
        )
        if action != "pick" or not picker.form.is_valid():
            return _render_picker(request, campaign, draft, picker, search_form)
        drafts.draft_set_council(draft, *picker.form.cleaned_data["municipality"])
    drafts.draft_save(request, campaign, draft)
    return redirect("letters:write", slug=campaign.slug)


def _render_picker(request, campaign, draft, picker, search_form):
    postal_form = PostalCodeForm(initial={"postal_code": draft["postal_code"]})
    return _render_campaign(
        request, campaign, postal_form=postal_form, picker=picker, search_form=search_form
    )


def _render_campaign(request, campaign, *, status: int = 200, **forms):
    context = campaign_page_context(campaign=campaign)
    context.update(forms)
    context["accepting"] = campaign.is_accepting_letters()
    if campaign.show_responsiveness:
        context["responsiveness"] = campaign_responsiveness(campaign=campaign)
        context["responsiveness_caveat"] = RESPONSIVENESS_CAVEAT
    if status == 429:
        context["notice"] = _TOO_MANY_STEPS
    return render(request, "letters/campaign.html", context, status=status)


_TOO_MANY_STEPS = _lazy(
    "Many letters were started from your internet address in the last hour. Please wait a "
    "little and try again: what you typed is still on this page."
)


def _journey_step(request, slug):
    """The campaign, the resident's draft and their council for steps 2 and 3; the council is
    None when the step cannot be shown (no council chosen yet, or the campaign not open)."""
    campaign = campaign_get_for_viewer(slug=slug, user=request.user)
    draft = drafts.draft_get(request, campaign)
    state = pages.council_state(campaign, draft)
    if not campaign.is_accepting_letters():
        state = None
    return campaign, draft, state


@require_http_methods(["GET", "POST"])
def write(request, slug):
    """Step 2: recipients, the personal parts of the letter and the sender's details."""
    campaign, draft, state = _journey_step(request, slug)
    if state is None:
        if request.method == "POST":
            _keep_typed_after_closing(request, campaign, draft)
        return redirect(campaign)
    if "started" not in draft:
        # The minimum fill time counts from the first view of this step; the subject is
        # picked once, so the preview shows the subject that is sent.
        draft["started"] = time.time()
        drafts.subject_index(campaign, draft)
        drafts.draft_save(request, campaign, draft)
    if request.method == "POST":
        form = pages.letter_form(campaign, state, data=request.POST)
        try:
            services.draft_write_check(ip=pages.client_ip(request))
        except services.RateLimited:
            form.is_valid()
            context = pages.write_context(campaign, state, form, draft)
            context["notice"] = _TOO_MANY_STEPS
            return render(request, "letters/write.html", context, status=429)
        # Keep what was typed, valid or not and within bounds, so nothing is lost on the way
        # back here.
        draft["data"] = drafts.form_data(request.POST, form)
        drafts.draft_save(request, campaign, draft)
        if form.is_valid():
            return redirect("letters:preview", slug=campaign.slug)
    else:
        form = pages.letter_form(campaign, state, data=draft.get("data"))
    context = pages.write_context(campaign, state, form, draft)
    return render(request, "letters/write.html", context)


@require_safe
@never_cache
def write_live(request, slug):
    """The letter step's live letter for the recipients and talking points now ticked, as an
    HTML fragment: letter-preview.js asks for it when they change. It changes nothing, and
    holds only the campaign's words for this council (what the resident typed stays in the
    page)."""
    campaign, draft, state = _journey_step(request, slug)
    if state is None:
        raise Http404
    live_letter = pages.live_letter_for_choices(campaign, state, request.GET, draft)
    if live_letter is None:
        raise Http404
    return render(request, "letters/_live_letter_sheet.html", {"live_letter": live_letter})


def _keep_typed_after_closing(request, campaign, draft) -> None:
    """The campaign stopped taking letters while this resident wrote: keep what they just
    typed in the draft, for the campaign page to give back (letters.pages.closed_draft)."""
    state = pages.council_state(campaign, draft)
    if state is None or campaign.is_accepting_letters():
        return
    try:
        services.draft_write_check(ip=pages.client_ip(request))
    except services.RateLimited:
        return
    form = pages.letter_form(campaign, state, data=request.POST)
    draft["data"] = drafts.form_data(request.POST, form)
    drafts.draft_save(request, campaign, draft)


@require_http_methods(["GET", "POST"])
def preview(request, slug):
    """Step 3: exactly what each recipient will receive, then Send."""
    campaign, draft, state = _journey_step(request, slug)
    if state is None:
        return redirect(campaign)
    form = pages.letter_form(campaign, state, data=draft.get("data"))
    if not form.is_valid():
        return redirect("letters:write", slug=campaign.slug)
    if request.method == "GET":
        return render(
            request, "letters/preview.html", pages.preview_context(campaign, state, form, draft)
        )

    def again(notice: str, status: int = 200) -> HttpResponse:
        context = pages.preview_context(campaign, state, form, draft)
        context["notice"] = notice
        return render(request, "letters/preview.html", context, status=status)

    if form.honeypot_filled:
        # A bot: look like success, save and send nothing.
        drafts.draft_clear(request, campaign)
        return redirect("letters:thanks", slug=campaign.slug)
    if time.time() - draft.get("started", 0) < settings.LETTERS_MIN_FILL_SECONDS:
        return again(_("That was quick! Please read your letter once more, then press Send again."))
    try:
        letter = pages.submit(request, campaign, state, form, draft)
    except services.SenderBlocked:
        drafts.draft_clear(request, campaign)
        return render(request, "letters/refused.html", {"campaign": campaign})
    except services.RateLimited:
        return again(
            _(
                "Many letters were sent from here in a short time. Please wait an hour and "
                "try again: your letter is kept on this page."
            ),
            status=429,
        )
    except services.LetterDuplicate:
        # This mailbox's letter to this council went out before; its owner got a reminder.
        # The page is the one every letter awaiting confirmation gets: whoever typed the
        # address learns nothing about its owner.
        letter = None
    except ValidationError as exc:
        return again(" ".join(exc.messages), status=400)
    drafts.draft_clear(request, campaign)
    if letter is not None and letter.status == Letter.Status.CONFIRMED:
        drafts.last_letter_set(request, letter)
    else:
        drafts.inbox_set(
            request,
            campaign,
            email=form.cleaned_data["email"],
            municipality_id=state.municipality.pk,
        )
    return redirect("letters:thanks", slug=campaign.slug)


@require_POST
def resend(request, slug):
    """ "Send the email again", from the thank-you page of a letter awaiting confirmation: the
    address on file gets what it needs (letters.services.sender_links_resend); the page says
    the same whatever the state of that address's letters."""
    campaign = campaign_get_for_viewer(slug=slug, user=request.user)
    inbox = drafts.inbox_get(request, campaign)
    if inbox is None:
        return redirect(campaign)
    try:
        services.sender_links_resend(
            campaign=campaign,
            municipality=Municipality(pk=inbox["municipality"]),
            email=inbox["email"],
        )
    except services.RateLimited:
        messages.warning(
            request, _("The email was sent several times already. Please wait an hour.")
        )
    else:
        messages.success(request, _("We sent the email again. Check your inbox."))
    return redirect("letters:thanks", slug=campaign.slug)


# never_cache here and on confirm, status and delete: these pages are the resident's own
# (their letter, their private links), to be kept by no browser or shared cache.
@never_cache
@require_safe
def thanks(request, slug):
    campaign = campaign_get_for_viewer(slug=slug, user=request.user)
    letter = pages.last_letter(request, campaign)
    context = pages.thanks_context(request, campaign, letter)
    context["inbox"] = drafts.inbox_get(request, campaign) if letter is None else None
    return render(request, "letters/thanks.html", context)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request, token):
    """The link in the confirmation email. GET shows the letter and a Send button; only the
    POST confirms, so a mail scanner that opens every link sends nothing."""
    try:
        if request.method == "POST":
            try:
                letter, waiting = services.letter_confirm(token=token)
            except Letter.DoesNotExist as exc:
                raise Http404("No such confirmation link") from exc
        else:
            letter = letter_get_by_confirmation_token(token=token)
            waiting = services.letter_awaits_confirmation(letter)
    except services.ConfirmationExpired as exc:
        return _confirm_expired(request, exc.letter, token)
    except services.CampaignClosed as exc:
        letter = exc.letter
        context = {
            "letter": letter,
            "campaign": letter.campaign,
            "mailto": pages.letter_mailto(letter.subject, letter.body),
        }
        return render(request, "letters/confirm_closed.html", context)
    if not waiting:
        if letter.status == Letter.Status.CONFIRMED and letter.confirmation_token != token:
            # Another letter of this writer's to this council was confirmed first.
            messages.info(request, _("You already wrote to this council. Here is that letter."))
        elif letter.status == Letter.Status.CONFIRMED:
            messages.info(request, _("This letter was already confirmed. Here is where it stands."))
        elif letter.status == Letter.Status.REPLACED:
            messages.info(
                request,
                _("This letter will not be sent: you confirmed a later letter to this council."),
            )
        else:  # withdrawn by its writer, or a blocked sender
            messages.info(request, _("This letter will not be sent."))
        return redirect(letter.status_url())
    if request.method == "POST":
        drafts.last_letter_set(request, letter)
        with translation.override(letter.language):
            return redirect(reverse("letters:thanks", kwargs={"slug": letter.campaign.slug}))
    context = {
        "letter": letter,
        "campaign": letter.campaign,
        "recipients": [d for d in letter.deliveries.all() if d.recipient_email],
        "municipality_name": letter.municipality.display_name(translation.get_language()),
    }
    return render(request, "letters/confirm.html", context)


def _confirm_expired(request, letter, token):
    context = {
        "letter": letter,
        "token": token,
        "confirmation_days": settings.LETTERS_CONFIRMATION_DAYS,
    }
    return render(request, "letters/confirm_expired.html", context)


@require_POST
def confirm_resend(request, token):
    letter = Letter.objects.filter(confirmation_token=token).first()
    if letter is None:
        raise Http404("No such confirmation link")
    try:
        services.letter_confirmation_resend(letter=letter)
    except services.RateLimited:
        messages.warning(request, _("A link was sent several times already. Please wait an hour."))
    else:
        messages.success(request, _("We sent a new confirmation link. Check your inbox."))
    return redirect(letter.status_url())


@never_cache
@require_safe
def status(request, token):
    letter = letter_get_by_token(token=token)
    return render(request, "letters/status.html", pages.status_context(letter))


@never_cache
@require_http_methods(["GET", "POST"])
def delete(request, token):
    """Delete-my-data: GET asks to confirm, POST erases at once (letters.erasure) and emails
    the resident that it is done; then the page says so."""
    letter = letter_get_by_token(token=token)
    if request.method == "POST":
        services.letter_delete_request(letter=letter)
        return redirect(request.path)
    context = {
        "letter": letter,
        "campaign": letter.campaign,
        "sent_count": sum(
            1 for delivery in letter.deliveries.all() if delivery.status in SENT_STATUSES
        ),
    }
    return render(request, "letters/delete.html", context)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def reply(request, token):
    """ "Did council reply?": the writer answers per recipient (the follow-up email's links
    preselect an answer). GET shows the form and changes nothing; the POST records."""
    letter = letter_get_by_token(token=token)
    if letter.purged_at:
        raise Http404("This letter's data was deleted")
    deliveries = pages.reply_deliveries(letter)
    forms = pages.reply_forms(
        deliveries, data=request.POST if request.method == "POST" else None, initial=request.GET
    )
    if request.method == "POST" and all(form.is_valid() for form in forms.values()):
        replies_and_updates.replies_record(
            letter=letter, answers={pk: form.cleaned_data for pk, form in forms.items()}
        )
        messages.success(request, _("Thank you: your answer is recorded."))
        return redirect(letter.status_url())
    context = {
        "letter": letter,
        "campaign": letter.campaign,
        "rows": [(delivery, forms[delivery.pk]) for delivery in deliveries],
    }
    return render(request, "letters/reply.html", context)


@never_cache
@csrf_exempt  # RFC 8058 one-click: the mail client POSTs without a token; the link is signed.
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, value):
    """Stop a campaign's updates. GET asks (a mail scanner opening links unsubscribes
    nobody); the POST, from the page or a mail client's one-click, does it at once."""
    letter = letter_get_for_unsubscribe(value=value)
    done = letter.unsubscribed_at is not None
    if request.method == "POST":
        replies_and_updates.letter_unsubscribe(letter=letter)
        done = True
    context = {"campaign": letter.campaign, "done": done}
    return render(request, "letters/unsubscribe.html", context)


@require_http_methods(["GET", "POST"])
def contact_report(request, representative_id):
    """ "Wrong or outdated contact?" about one representative, from the letter step or a
    status page: an organizer gets the report (Councils > Contact reports). Public, CSRF
    protected and limited per IP address; it asks nothing about the person reporting."""
    representative = get_object_or_404(
        Representative.objects.active().select_related("municipality", "ward"),
        pk=representative_id,
    )
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    form = ContactReportForm(request.POST if request.method == "POST" else None)
    context = {"representative": representative, "form": form, "next_url": next_url}
    if request.method == "POST" and form.is_valid():
        if form.honeypot_filled:
            return render(request, "letters/contact_report.html", {**context, "sent": True})
        try:
            services.contact_report_submit(
                representative=representative,
                problem=form.cleaned_data["problem"],
                details=form.cleaned_data["details"],
                ip=pages.client_ip(request),
            )
        except services.RateLimited:
            context["notice"] = _(
                "Many reports were sent from your internet address in the last hour. Please "
                "try again later."
            )
            return render(request, "letters/contact_report.html", context, status=429)
        context["sent"] = True
    return render(request, "letters/contact_report.html", context)
