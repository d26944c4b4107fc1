"""The pixels on pages: public quiz pages load pixels.js with the company's ids under the
page's nonce and a CSP that allows the vendors' hosts; CRM pages never do."""

from __future__ import annotations

import re

from pixelkit import META_PIXEL, TIKTOK_CODE, answer_as_ad_visitor
from sqlalchemy import select

from orbitflow_plugins.quiz.models import QuizSubmission
from quiz.quizkit import FULL_QUIZ, make_quiz, public_path

VENDOR_HOSTS = ("connect.facebook.net", "www.facebook.com", "analytics.tiktok.com")


def pixel_tag(page) -> str | None:
    match = re.search(r"<script [^>]*data-orbitflow-pixels[^>]*>", page.text)
    return match.group(0) if match else None


def directive(page, name: str) -> str:
    policy = page.headers["Content-Security-Policy"]
    return next(part.strip() for part in policy.split(";") if part.strip().startswith(name + " "))


def test_a_quiz_page_loads_the_pixels_under_its_nonce(api, db, company, visitor):
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL, "tiktok_pixel_code": TIKTOK_CODE})
    quiz = make_quiz(db, company)
    page = visitor.get(public_path(company, quiz))
    tag = pixel_tag(page)
    assert tag is not None and "/pixels-static/pixels" in tag
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    assert f'nonce="{nonce}"' in tag
    assert f'data-meta-pixel="{META_PIXEL}"' in tag and f'data-tiktok-pixel="{TIKTOK_CODE}"' in tag
    assert 'data-consent="required"' in tag
    scripts = directive(page, "script-src")
    assert "https://connect.facebook.net" in scripts and "https://analytics.tiktok.com" in scripts
    assert "'unsafe-inline'" not in scripts and "https:" not in scripts.split()
    connects = directive(page, "connect-src").split()
    assert {"https://www.facebook.com", "https://analytics.tiktok.com"} <= set(connects)
    # The vendors' code is loaded by the script, never inline in the page.
    assert "fbevents.js" not in page.text and "events.js" not in page.text


def directives(page) -> dict[str, set[str]]:
    policy = page.headers["Content-Security-Policy"]
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        # The nonce changes with each page.
        parsed[name] = {"'nonce'" if value.startswith("'nonce-") else value for value in values}
    return parsed


META_HOSTS = {"https://connect.facebook.net", "https://www.facebook.com"}
TIKTOK_HOSTS = {"https://analytics.tiktok.com"}


def test_the_quiz_pages_csp_allows_exactly_the_vendors_hosts(api, db, company, visitor):
    quiz = make_quiz(db, company)
    api.put("/api/v1/pixels", {"disabled_quiz_ids": [quiz.id]})
    bare = directives(visitor.get(public_path(company, quiz)))
    assert bare["script-src"] == {"'self'", "'nonce'"} and bare["connect-src"] == {"'self'"}

    api.put(
        "/api/v1/pixels", {"facebook_pixel_id": META_PIXEL, "tiktok_pixel_code": TIKTOK_CODE, "disabled_quiz_ids": []}
    )
    both = directives(visitor.get(public_path(company, quiz)))
    assert both["script-src"] == {"'self'", "'nonce'", "https://connect.facebook.net", "https://analytics.tiktok.com"}
    assert both["connect-src"] == {"'self'"} | META_HOSTS | TIKTOK_HOSTS
    assert both["img-src"] == bare["img-src"] | META_HOSTS | TIKTOK_HOSTS
    # Every other directive is the page's own, untouched.
    assert {name: values for name, values in both.items() if name not in ("script-src", "connect-src", "img-src")} == {
        name: values for name, values in bare.items() if name not in ("script-src", "connect-src", "img-src")
    }

    # Only Meta configured (the installation's default pixel): no TikTok host at all.
    api.put("/api/v1/pixels", {"facebook_pixel_id": None, "tiktok_pixel_code": None})
    meta_only = directives(visitor.get(public_path(company, quiz)))
    assert meta_only["script-src"] == {"'self'", "'nonce'", "https://connect.facebook.net"}
    assert meta_only["connect-src"] == {"'self'"} | META_HOSTS
    assert meta_only["img-src"] == bare["img-src"] | META_HOSTS


def test_crm_pages_never_carry_the_pixels(api, db, company):
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL, "tiktok_pixel_code": TIKTOK_CODE})
    quiz = make_quiz(db, company)
    for path in ("/dashboard", "/settings/pixels", f"/quizzes/{quiz.id}", f"/quizzes/{quiz.id}/preview", "/pipeline"):
        page = api.client.get(path)
        assert pixel_tag(page) is None, path
        policy = page.headers["Content-Security-Policy"]
        assert not any(host in policy for host in VENDOR_HOSTS), path
        crm = directives(page)
        assert crm["script-src"] == {"'self'", "'nonce'"} and crm["connect-src"] == {"'self'"}, path
        assert not (crm["img-src"] & (META_HOSTS | TIKTOK_HOSTS)), path


def test_the_installation_pixel_applies_until_the_company_sets_one(db, company, visitor):
    quiz = make_quiz(db, company)
    tag = pixel_tag(visitor.get(public_path(company, quiz)))
    assert tag is not None and 'data-meta-pixel="999999999999999"' in tag and "data-tiktok-pixel" not in tag


def test_a_quiz_switched_off_has_no_pixels(api, db, company, visitor):
    quiz = make_quiz(db, company)
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL, "disabled_quiz_ids": [quiz.id]})
    page = visitor.get(public_path(company, quiz))
    assert pixel_tag(page) is None
    assert "connect.facebook.net" not in page.headers["Content-Security-Policy"]


def test_the_thanks_page_fires_the_lead_with_the_server_events_id(api, db, company, visitor):
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL})
    quiz = make_quiz(db, company)
    answer, _, _ = answer_as_ad_visitor(visitor, company, quiz)
    thanks = visitor.get(answer.location)
    submission = db.scalars(select(QuizSubmission).where(QuizSubmission.quiz_id == quiz.id)).one()
    tag = pixel_tag(thanks)
    assert tag is not None and 'data-page="thanks"' in tag and 'data-consent="given"' in tag
    assert f'data-event-id="evt_quiz_{quiz.id}_{submission.id}"' in tag


def test_without_consent_the_thanks_page_has_no_pixels(api, db, company, visitor):
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL})
    quiz = make_quiz(db, company, {**FULL_QUIZ, "consent_enabled": False})
    answer, _, _ = answer_as_ad_visitor(visitor, company, quiz, consent=None)
    thanks = visitor.get(answer.location)
    assert pixel_tag(thanks) is None
    assert "connect.facebook.net" not in thanks.headers["Content-Security-Policy"]
    # Without the consent rule, the same visitor is tracked.
    api.put("/api/v1/pixels", {"require_consent": False})
    answer, _, _ = answer_as_ad_visitor(visitor, company, quiz, consent=None, email="b@example.com")
    assert 'data-consent="given"' in pixel_tag(visitor.get(answer.location))
