from django import template
from django.urls import translate_url

from campaigns.models import Campaign, site_organization
from campaigns.rendering import render_markdown, render_markdown_inline

register = template.Library()


@register.filter
def markdown(text):
    """Render organizer Markdown as sanitised HTML."""
    return render_markdown(text)


@register.filter
def markdown_inline(text):
    """Render organizer Markdown for use inside a line, sanitised."""
    return render_markdown_inline(text)


@register.simple_tag(takes_context=True)
def translated_url(context, language_code):
    """The current page's address in another language (/campaigns/x/ <-> /fr/campaigns/x/)."""
    request = context["request"]
    return translate_url(request.get_full_path(), language_code)


@register.simple_tag
def organization(campaign=None):
    """Who runs the page, in the active language: the campaign's organization on its pages,
    else the site's (ORGANIZATION_NAME)."""
    if isinstance(campaign, Campaign):
        return campaign.organization()
    return site_organization()
