"""Hostile values, the parameter names the code reads, and URLs built around them."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from accounts.routewalk import PLACEHOLDER, View

SOURCES = Path(__file__).resolve().parents[2] / "src"
# Values every parameter should survive, in rounds: each round gives each parameter a
# different one, so that over the rounds every parameter sees every value.
HOSTILE = (
    str(2**63),  # one past a signed 64-bit id
    "1" + "0" * 25,  # 10^25
    "-1",
    "²",  # str.isdigit() accepts it, int() does not
    "١٢",  # int() reads 12
    "9" * 5000,  # more digits than int() converts
    "x" * 2000,  # longer than any column
)
# A path placeholder of digits (\d+) takes these; free ones take every hostile value.
HOSTILE_IDS = (str(2**63), "0", "١٢", "0" * 3000 + "1")
# Refused by the decoding step wherever they appear; sent raw, not percent-encoded.
UNDECODABLE = ("%ff", "%00", "%C0%AF")
# Names read through helpers rather than by a literal .get("name").
EXTRA_NAMES = (
    "owner", "from", "to", "actor", "actor_id", "company_id", "target_type", "target_id", "cursor",
    "position", "value", "stage", "lead_id", "utm_source", "utm_campaign", "utm_medium", "fbclid",
    "ttclid", "referrer", "map_name", "map_email", "option_label_1", "option_score_1", "option_id_1",
    "max_users", "max_quizzes", "currency", "timezone", "company_name", "tags", "notes",
)  # fmt: skip
_READS = re.compile(r"""\.(?:get|getall|getone)\(\s*["']([a-z][a-z0-9_]*)["']""")


def parameter_names() -> list[str]:
    """Every name the code reads with ``.get("name")`` (request parameters and more)."""
    names = set(EXTRA_NAMES)
    for source in SOURCES.rglob("*.py"):
        names.update(_READS.findall(source.read_text(encoding="utf-8")))
    names.discard("csrf_token")
    return sorted(names)


def fill(view: View, values: dict[str, str]) -> str:
    """``view``'s pattern with its placeholders replaced by ``values`` (already escaped)."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], view.pattern)


def escaped(value: str) -> str:
    return value if value in UNDECODABLE else quote(value, safe="")


def takes(regex: str, value: str) -> bool:
    """Would the placeholder's expression match ``value`` (once unescaped)?"""
    if value in UNDECODABLE:
        return regex == ""
    return re.fullmatch(regex or "[^/]+", value) is not None


def query(names: list[str], round_number: int, values: tuple[str, ...] = HOSTILE) -> str:
    """Every name with one of ``values``; round ``n`` shifts which gets which."""
    return "&".join(
        f"{name}={escaped(values[(index + round_number) % len(values)])}" for index, name in enumerate(names)
    )
