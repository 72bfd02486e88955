"""Markdown to safe HTML for organizer-written copy.

Organizers type Markdown in the admin; markdown-it renders it and nh3 keeps only a small set of
tags and attributes, so a <script> or a javascript: link typed into the admin never reaches a page.
"""

from functools import lru_cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h2", "h3", "h4", "hr", "i", "li",
    "ol", "p", "pre", "strong", "sub", "sup", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


# Keyed by the text itself, so an edit is a new entry and nothing needs invalidating; the
# campaign page renders the same few texts on every view.
@lru_cache(maxsize=512)
def render_markdown(text: str) -> SafeString:
    return _clean(_markdown.render(text or ""))


@lru_cache(maxsize=512)
def render_markdown_inline(text: str) -> SafeString:
    """Markdown for a phrase inside a line (a talking point): no wrapping paragraph."""
    return _clean(_markdown.renderInline(text or ""))


def _clean(html: str) -> SafeString:
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return mark_safe(cleaned)
