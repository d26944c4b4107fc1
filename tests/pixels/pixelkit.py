"""Helpers of the pixel tests: configure a company, answer its quiz as an ad visitor."""

from __future__ import annotations

import hashlib
import re

import webtest
from sqlalchemy import select

from orbitflow.deliveries import Delivery
from quiz.quizkit import backdate, good_answers, public_path, token_of

META_PIXEL = "123456789012345"
TIKTOK_CODE = "C4ABCDEFGHIJ12345678"
META_TOKEN = "EAAB-meta-token-of-company-a"
TIKTOK_TOKEN = "tiktok-token-of-company-a"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def configure(api, **extra) -> dict:
    """Company A's Meta pixel and TikTok pixel code with their tokens, through the API
    (``extra`` changes or adds fields); the settings the API answers."""
    body = {
        "facebook_pixel_id": META_PIXEL,
        "facebook_access_token": META_TOKEN,
        "tiktok_pixel_code": TIKTOK_CODE,
        "tiktok_access_token": TIKTOK_TOKEN,
        **extra,
    }
    return api.put("/api/v1/pixels", body).json


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def answer_as_ad_visitor(
    visitor: webtest.TestApp,
    company,
    quiz,
    *,
    query: str = "?utm_source=facebook&fbclid=IwAR3xYz_AbC-123&ttclid=E.C.P.tt-Click_9",
    cookies: dict[str, str] | None = None,
    status: int = 303,
    **contact: str,
) -> tuple[webtest.TestResponse, str, str]:
    """Open the quiz from an ad link, then post it as the browser would (the pixels'
    cookies, the landing address as Referer). Returns the answer, the posted token and
    the landing URL."""
    path = public_path(company, quiz)
    landing = f"http://localhost{path}{query}"
    for name, value in (cookies or {}).items():
        visitor.set_cookie(name, value)
    page = visitor.get(path + query, headers={"User-Agent": CHROME})
    token = backdate(token_of(page), 30)
    hidden = re.findall(
        r'<input type="hidden" name="((?:utm_|referrer|fbclid|ttclid)[^"]*)" value="([^"]*)"', page.text
    )
    fields = [("token", token), *hidden, *good_answers(quiz, **contact)]
    answer = visitor.post(path, fields, headers={"User-Agent": CHROME, "Referer": landing}, status=status)
    return answer, token, landing


def pixel_deliveries(db) -> list[Delivery]:
    db.expire_all()
    return list(db.scalars(select(Delivery).where(Delivery.channel.like("pixels.%")).order_by(Delivery.id)))
