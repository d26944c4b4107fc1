"""The visitor's device class from the User-Agent: mobile, tablet or desktop.

Three classes are all the funnel page shows, so a few well-known markers suffice; the
full parsers (ua-parser) answer questions we do not ask."""

from __future__ import annotations

import re

DEVICE_CLASSES = ("mobile", "tablet", "desktop")
_TABLET = re.compile(r"ipad|tablet|playbook|silk|kindle|(android(?!.*mobile))", re.IGNORECASE)
_MOBILE = re.compile(r"mobi|iphone|ipod|android|blackberry|opera mini|iemobile|windows phone", re.IGNORECASE)


def device_class(user_agent: str | None) -> str:
    agent = user_agent or ""
    if _TABLET.search(agent):
        return "tablet"
    if _MOBILE.search(agent):
        return "mobile"
    return "desktop"
