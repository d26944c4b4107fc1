"""Counted nouns in the product's English: "1 quiz", "2 quizzes", "0 leads"."""

from __future__ import annotations

from numbers import Number


def plural(count: Number | int, singular: str, plural_form: str | None = None, *, number: bool = True) -> str:
    """``count`` with the noun that agrees with it; ``number=False`` gives the noun alone
    (for labels under a big figure). The plural defaults to the singular plus "s"."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}" if number else word
