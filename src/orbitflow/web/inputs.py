"""Whole numbers from paths, query strings and form fields: one parser, bounded.

Only ASCII digits count. ``int()`` also takes " 12", "+12", "1_2" and other scripts' digits
("١٢"), and ``str.isdigit()`` passes "²", which ``int()`` then refuses; neither bounds the
value, and a number beyond a column's range makes the database driver fail. So:

- an id names a row when it is 1 … ``MAX_ID`` (signed 64-bit, the widest id column);
  another whole number (0, negative, beyond the range) names no row: :func:`parse_id`
  answers ``NO_ROW``, which every lookup finds nothing for — a 404, an empty list;
- a page number is 1 … ``MAX_PAGE``: HTML lists clamp to it (a page past the end shows
  the last page), the JSON API answers 400 naming the range, as its document states;
- other numbers (positions, quotas, scores) are checked against the bounds their caller
  names, with a message that says them.
"""

from __future__ import annotations

import re

from pyramid.request import Request

MAX_ID = 2**63 - 1
# An id no row has (ids start at 1): filters on it match nothing, lookups find nothing.
NO_ROW = -1
MAX_PAGE = 1_000_000
# A signed 32-bit INTEGER column (positions, quotas, scores).
MAX_INT32 = 2**31 - 1

_WHOLE = re.compile(r"-?[0-9]+")
# More digits than any bounded number has: refused before int() converts them.
_MAX_DIGITS = 40


class NumberError(ValueError):
    """Not a whole number within the bounds; ``str(error)`` says what is wanted."""


def whole_number(raw: object) -> int | None:
    """The value of ``raw`` when it is ASCII digits with an optional leading "-", else None.

    Surrounding spaces are allowed (a hand-typed form field); nothing else is.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if not isinstance(raw, str):
        return None
    text = raw.strip(" \t")
    if not _WHOLE.fullmatch(text):
        return None
    # Leading zeros do not make a number bigger: drop them before the length check.
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    digits = digits.lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        return -(10**_MAX_DIGITS) if sign else 10**_MAX_DIGITS  # beyond every bound, cheaply
    return int(sign + digits)


def parse_id(raw: object) -> int | None:
    """A row id: None when ``raw`` is absent or not a whole number (letters, "²", "1.5");
    ``NO_ROW`` when it is a whole number that cannot name a row (0, negative, > MAX_ID)."""
    if raw is None or raw == "":
        return None
    value = whole_number(raw)
    if value is None:
        return None
    return value if 1 <= value <= MAX_ID else NO_ROW


def path_id(request: Request, name: str = "id") -> int:
    """The id in the route's ``{name}`` placeholder, or ``NO_ROW`` when it names no row
    (the route's ``\\d+`` also matches other scripts' digits): the caller's lookup then
    finds nothing and answers its own 404."""
    value = parse_id(request.matchdict.get(name))
    return NO_ROW if value is None else value


def bounded_int(raw: object, *, minimum: int, maximum: int) -> int:
    """``raw`` as a whole number from ``minimum`` to ``maximum``, or :class:`NumberError`."""
    value = whole_number(raw)
    if value is None:
        raise NumberError(f"Enter a whole number from {minimum} to {maximum}.")
    if not minimum <= value <= maximum:
        raise NumberError(f"Use a number from {minimum} to {maximum}.")
    return value


def parse_page(raw: object, maximum: int = MAX_PAGE) -> int:
    """A page number for an HTML list: missing or malformed is the first page, a huge one
    the last possible (the list then clamps it to its own last page)."""
    value = whole_number(raw)
    if value is None or value < 1:
        return 1
    return min(value, maximum)
