"""The public quiz page, rendered once per cached definition and filled in per visitor.

All of a published quiz's page but three values is the same for every visitor: the form
token, the response's CSP nonce (in every ``<script nonce>``) and the tracking fields
from the landing address (UTM, click ids, referrer). The page is rendered once with a
marker in place of each — random per process, so no quiz text can forge one — cut at
the markers and kept with the definition in
:class:`~orbitflow_plugins.quiz.cache.DefinitionCache`: when the definition is forgotten
(an edit, unpublished, the pixel settings changed), so is the page. A view then only
joins the pieces with its visitor's values. The same template renders a page with
errors, and the builder's preview, in full.

What rendering decided for the response beside the HTML is kept too: the CSP sources of
the plugins' page scripts, which the security headers tween adds to the policy.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from pyramid.renderers import render
from pyramid.request import Request

CSP_SOURCES_KEY = "orbitflow.csp_sources"
# The page of one definition is kept per public address it was rendered for (URLs in it
# are absolute); without AUTH_URL the Host header picks it, so only a few are kept.
MAX_ADDRESSES = 4

_MARK = f"of{secrets.token_hex(8)}"
TOKEN = f"{_MARK}-token-"
NONCE = f"{_MARK}-nonce-"
HIDDEN = f"{_MARK}-hidden-"
_SLOTS = re.compile(f"{_MARK}-(token|nonce|hidden)-")


def hidden_inputs(fields: dict[str, str]) -> Markup:
    """The tracking fields as hidden inputs (the one place they are written)."""
    return Markup("").join(
        Markup('<input type="hidden" name="{}" value="{}">').format(name, value) for name, value in fields.items()
    )


@dataclass(frozen=True)
class RenderedPage:
    # Text and slot names alternate: text, slot, text, ..., text.
    pieces: tuple[str, ...]
    csp_sources: dict[str, tuple[str, ...]] | None

    def fill(self, request: Request, token: str, hidden: dict[str, str]) -> str:
        if self.csp_sources:
            request.environ[CSP_SOURCES_KEY] = self.csp_sources
        values = {"token": str(escape(token)), "nonce": request.csp_nonce, "hidden": hidden_inputs(hidden)}
        pieces = list(self.pieces)
        pieces[1::2] = [values[slot] for slot in pieces[1::2]]
        return "".join(pieces)


def render_page(request: Request, template: str, context: dict[str, Any]) -> RenderedPage:
    """Render ``template`` with the slots' markers in ``context`` (``TOKEN`` for the token,
    ``NONCE`` for the nonce, ``Markup(HIDDEN)`` for the tracking fields)."""
    html = render(template, context, request=request)
    return RenderedPage(tuple(_SLOTS.split(html)), request.environ.get(CSP_SOURCES_KEY))


class PageStore:
    """The pages of one cached definition, by the public address they were rendered for."""

    def __init__(self) -> None:
        self._pages: dict[str, RenderedPage] = {}

    def get(self, address: str) -> RenderedPage | None:
        return self._pages.get(address)

    def put(self, address: str, page: RenderedPage) -> None:
        if len(self._pages) >= MAX_ADDRESSES and address not in self._pages:
            self._pages = {}
        self._pages[address] = page
