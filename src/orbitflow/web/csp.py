"""The Content-Security-Policy: the product's base policy, plus the sources an operator adds.

``orbitflow.csp_extra`` is read once at start-up as CSP directives (``img-src
https://cdn.example.com; connect-src https://api.example.com``). Each one adds its sources
to the base policy's directive of that name; a directive the base policy does not have
starts from ``default-src``'s sources, so naming it never drops ``'self'``. Additions that
would weaken what the base policy exists for stop start-up: any source for ``object-src``,
``base-uri`` or ``frame-ancestors`` (frame-ancestors is the quiz pages' per-company
setting), and script sources that run code the app did not serve with its nonce.
"""

from __future__ import annotations

import re

from orbitflow.config import ConfigError

SETTING = "orbitflow.csp_extra"

# The base policy, in the order it is sent. script-src gets the response's nonce and
# frame-ancestors the page's value (the quiz pages' per-company setting) per request.
BASE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:", "https:"),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'", "https:"),
}
LOCKED_DIRECTIVES = frozenset({"object-src", "base-uri", "frame-ancestors"})
# These would override script-src without the page's nonce: the product's own scripts
# would stop running.
NONCELESS_SCRIPT_DIRECTIVES = frozenset({"script-src-elem", "script-src-attr"})
# Script sources that would let code run without the nonce: inline code, eval, or any
# host or scheme at all.
UNSAFE_SCRIPT_SOURCES = frozenset(
    {
        "'unsafe-inline'",
        "'unsafe-eval'",
        "'unsafe-hashes'",
        "'wasm-unsafe-eval'",
        "*",
        "data:",
        "blob:",
        "http:",
        "https:",
    }
)
# Directives that take no sources from default-src (they are not fetch directives).
NON_FETCH_DIRECTIVES = frozenset(
    {
        "form-action",
        "report-uri",
        "report-to",
        "sandbox",
        "upgrade-insecure-requests",
        "require-trusted-types-for",
        "trusted-types",
    }
)
_DIRECTIVE_NAME = re.compile(r"^[a-z][a-z-]*$")
# A source expression: a quoted keyword or hash, or printable ASCII without quotes and
# without the characters that end a directive or a policy (";" and ",").
_SOURCE = re.compile(r"^(?:'[A-Za-z0-9+/=_-]+'|[!#-&(-+\--:<-~]+)$")


def parse_extra(raw: str | None) -> dict[str, tuple[str, ...]]:
    """``orbitflow.csp_extra`` as directives and their sources; refuses what would weaken the base."""
    directives: dict[str, tuple[str, ...]] = {}
    for part in (raw or "").split(";"):
        tokens = part.split()
        if not tokens:
            continue
        name, sources = tokens[0].lower(), tokens[1:]
        if not _DIRECTIVE_NAME.match(name):
            raise ConfigError(f"{SETTING}: {tokens[0]!r} is not a CSP directive name")
        if name in LOCKED_DIRECTIVES:
            raise ConfigError(f"{SETTING} may not change {name}: it stays as the base policy sets it")
        if name in NONCELESS_SCRIPT_DIRECTIVES:
            raise ConfigError(f"{SETTING} may not set {name}; add script sources to script-src")
        for source in sources:
            if not _SOURCE.match(source):
                raise ConfigError(f"{SETTING}: {source!r} in {name} is not a CSP source expression")
            if name == "script-src" and source.lower() in UNSAFE_SCRIPT_SOURCES:
                raise ConfigError(f"{SETTING} may not add {source} to {name}: scripts run only with the page's nonce")
            if source.lower().startswith("'nonce-"):
                raise ConfigError(f"{SETTING}: a fixed nonce in {name} is no secret; use a 'sha256-...' hash")
            if source.lower() == "'none'":
                raise ConfigError(f"{SETTING}: 'none' in {name} would add nothing; leave the directive out")
        directives[name] = _unique(directives.get(name, ()) + tuple(sources))
    return directives


def check_page_sources(sources: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """A plugin's sources for one page, held to the rules of ``orbitflow.csp_extra``
    (raises ValueError otherwise)."""
    text = "; ".join(" ".join([name, *values]) for name, values in sources.items() if values)
    try:
        return parse_extra(text)
    except ConfigError as error:
        raise ValueError(str(error).replace(SETTING, "a page script's CSP")) from None


def merge(extra: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The base policy with ``extra``'s sources added to each directive."""
    policy = dict(BASE_POLICY)
    for name, sources in extra.items():
        start = policy.get(name)
        if start is None:
            start = () if name in NON_FETCH_DIRECTIVES else BASE_POLICY["default-src"]
        policy[name] = _unique(start + sources)
    return policy


class PolicyTemplate:
    """The policy of every response, rendered once at start-up; a response adds only its
    nonce and its frame-ancestors value."""

    def __init__(self, policy: dict[str, tuple[str, ...]]):
        names = list(policy)
        split = names.index("script-src")
        script_sources = policy["script-src"]
        head = [" ".join([name, *policy[name]]) for name in names[:split]]
        head.append(" ".join(["script-src", *script_sources[:1]]))
        tail = [" ".join([name, *policy[name]]) for name in names[split + 1 :]]
        self._head = "; ".join(head) + " 'nonce-"
        self._middle = "'" + "".join(" " + source for source in script_sources[1:])
        self._middle += "".join("; " + part for part in tail) + "; frame-ancestors "

    def render(self, nonce: str, frame_ancestors: str) -> str:
        return self._head + nonce + self._middle + frame_ancestors


class Policies:
    """The policy of every response, and those of pages whose scripts add sources
    (built once per distinct set of additions)."""

    def __init__(self, raw: str | None):
        self.extra = parse_extra(raw)
        self.default = PolicyTemplate(merge(self.extra))
        self._with: dict[tuple, PolicyTemplate] = {}

    def for_sources(self, sources: dict[str, tuple[str, ...]] | None) -> PolicyTemplate:
        if not sources:
            return self.default
        key = tuple(sorted((name, tuple(values)) for name, values in sources.items()))
        template = self._with.get(key)
        if template is None:
            combined = dict(self.extra)
            for name, values in sources.items():
                combined[name] = _unique(combined.get(name, ()) + tuple(values))
            template = self._with.setdefault(key, PolicyTemplate(merge(combined)))
        return template


def _unique(sources: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(sources))
