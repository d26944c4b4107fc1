"""The site's icon: /favicon.ico, which browsers ask for on every page, and the SVG
icon the pages link."""

from __future__ import annotations

import re


def test_the_site_has_an_icon(testapp):
    icon = testapp.get("/favicon.ico")
    assert icon.content_type == "image/x-icon"
    assert icon.body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age" in icon.headers["Cache-Control"]
    page = testapp.get("/login")
    svg = testapp.get(re.search(r'<link rel="icon" href="([^"]+)"', page.text).group(1))
    assert svg.content_type == "image/svg+xml"
