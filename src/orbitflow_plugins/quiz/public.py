"""The public quiz pages: anyone may open and answer a published quiz.

These views need no sign-in and no CSRF token (visitors have no session); a one-time form
token, per-address rate limits, a honeypot field and a minimum fill time protect them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from markupsafe import Markup
from pyramid.httpexceptions import HTTPNotFound
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from pyramid_retry import RetryableException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from webob.multidict import MultiDict

from orbitflow.config import get_settings
from orbitflow.db import bind_company, unscoped
from orbitflow.events import QuizEvent
from orbitflow.leads.services import AuditInfo, announce, lead_event
from orbitflow.plugins import PublicPage, notify_after_commit, public_page_scripts
from orbitflow.shared import shared
from orbitflow.tenants.locale import locale_of
from orbitflow.tenants.models import PLATFORM_SUBSCRIPTION_ID, Company
from orbitflow.web.inputs import parse_id
from orbitflow_plugins.quiz import answers as answers_module
from orbitflow_plugins.quiz.cache import DefinitionCache
from orbitflow_plugins.quiz.devices import device_class
from orbitflow_plugins.quiz.models import PUBLISHED, Quiz, QuizQuestion
from orbitflow_plugins.quiz.page import HIDDEN, NONCE, TOKEN, PageStore, hidden_inputs, render_page
from orbitflow_plugins.quiz.ratelimit import QuizRateLimiter
from orbitflow_plugins.quiz.recorder import FunnelRecorder
from orbitflow_plugins.quiz.settings import QuizSettings
from orbitflow_plugins.quiz.submissions import (
    AddressTaken,
    Draft,
    Tracking,
    completion_events,
    find_submission,
    funnel_event,
    is_race,
    store_submission,
)
from orbitflow_plugins.quiz.tokens import MAX_TOKEN_AGE_SECONDS, hash_ip, issue_token, read_token
from orbitflow_plugins.quiz.weburl import clean_web_url

PUBLIC_TEMPLATE = "quiz_public.jinja2"
HONEYPOT = "leave_blank"
# Bodies of the public submit larger than this are refused before they are parsed.
MAX_SUBMIT_BYTES = 64 * 1024


class PublicQuiz:
    def __init__(self, company: Company, quiz: Quiz):
        self.company = company
        self.quiz = quiz
        # The page every visitor gets, rendered once (orbitflow_plugins.quiz.page).
        self.pages = PageStore()


def secret(request: Request) -> str:
    return get_settings(request.registry).auth_secret


def visitor_hash(request: Request) -> str:
    return hash_ip(secret(request), request.client_ip)


def min_fill_seconds(request: Request) -> int:
    return shared(request.registry, QuizSettings).min_fill_seconds


def rate_limited(request: Request, scope: str) -> Response | None:
    verdict = shared(request.registry, QuizRateLimiter).hit(scope, visitor_hash(request))
    if verdict.allowed:
        return None
    if scope == "event":
        response = Response(json_body={"error": {"code": "rate_limited", "message": "Too many requests."}})
    else:
        response = render_to_response(
            "quiz_rate_limited.jinja2", {"retry_after": verdict.retry_after, "csrf_token": ""}, request=request
        )
    response.status_int = 429
    response.headers["Retry-After"] = str(verdict.retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


def load_public_quiz(request: Request, *, published_only: bool = True, recent: bool = False) -> PublicQuiz:
    """The company and its quiz named in the URL, or 404 (unknown, inactive, unpublished).

    With ``recent`` (pages that store nothing), a quiz cached by this process is taken
    without asking the database: it is at most ``quiz.cache_check_seconds`` behind (see
    :class:`~orbitflow_plugins.quiz.cache.DefinitionCache`), and the request's database
    session is not even opened (a view that then runs hooks binds it to the company
    first). Otherwise one small query finds
    both and when they last changed, and the full definition comes from the cache unless
    it changed since."""
    key = (request.matchdict["subscription_id"], request.matchdict["slug"])
    public = shared(request.registry, DefinitionCache).recent(key) if recent else None
    if public is None or public.quiz.status != PUBLISHED:
        public = _load_current(request, key, published_only)
    # Public quiz pages may be framed by the sites the company allows; nothing else may.
    request.environ["orbitflow.frame_ancestors"] = public.company.frame_ancestors or "'none'"
    return public


def _load_current(request: Request, key: tuple[str, str], published_only: bool) -> PublicQuiz:
    session = request.dbsession
    cache = shared(request.registry, DefinitionCache)
    generation = cache.generation
    with unscoped(session):
        row = session.execute(
            select(
                Company.id,
                Company.is_active,
                Company.subscription_id,
                Company.updated_at,
                Quiz.id,
                Quiz.status,
                Quiz.updated_at,
            )
            .join(Quiz, Quiz.company_id == Company.id)
            .where(Company.subscription_id == key[0], Quiz.slug == key[1])
        ).first()
    if row is None:
        raise HTTPNotFound()
    company_id, active, subscription_id, company_changed, quiz_id, status, quiz_changed = row
    if not active or subscription_id == PLATFORM_SUBSCRIPTION_ID or (published_only and status != PUBLISHED):
        raise HTTPNotFound()
    bind_company(session, company_id)
    stamp = (company_changed, quiz_changed, status)
    public = cache.get(key, stamp)
    if public is None:
        company = session.get(Company, company_id)
        quiz = session.scalars(
            select(Quiz)
            .where(Quiz.id == quiz_id)
            .options(
                selectinload(Quiz.questions).selectinload(QuizQuestion.options),
                selectinload(Quiz.outcomes),
                selectinload(Quiz.assignees),
            )
        ).one()
        # Detach them: a rollback of this request must not expire what other requests read.
        session.expunge(quiz)
        session.expunge(company)
        public = PublicQuiz(company, quiz)
        cache.put(key, stamp, public, generation)
    return public


def page_context(
    request: Request,
    public: PublicQuiz,
    *,
    token: str,
    tracking: Tracking,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
    preview: bool = False,
    submit_url: str | None = None,
) -> dict[str, Any]:
    quiz = public.quiz
    base = {"subscription_id": public.company.subscription_id, "slug": quiz.slug}
    return {
        "quiz": quiz,
        "company": public.company,
        "questions": quiz.questions,
        "token": token,
        "hidden_fields": hidden_inputs(tracking.hidden_fields()),
        "values": values or {},
        "errors": errors or {},
        "form_error": form_error,
        "preview": preview,
        "submit_url": submit_url or request.route_url("quiz_public", **base),
        "events_url": "" if preview else request.route_url("quiz_public_events", **base),
        "theme_url": request.route_url("quiz_theme", color=quiz.brand_color.lstrip("#").lower()),
        "honeypot": HONEYPOT,
        # Plugins' scripts (the ad pixels) on the public page, never on the builder's preview.
        "page_scripts": [] if preview else public_page_scripts(request, PublicPage("quiz", public.company.id, quiz.id)),
        # Visitors have no session: no CSRF cookie for them.
        "csrf_token": "",
        "identity": None,
        "nav": [],
        "settings_nav": [],
    }


def _render(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    response = render_to_response(PUBLIC_TEMPLATE, context, request=request)
    response.status_int = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _quiz_event(public: PublicQuiz, nonce: str, tracking: Tracking, **extra: Any) -> QuizEvent:
    return QuizEvent(
        company_id=public.company.id,
        quiz_id=public.quiz.id,
        session_key=nonce,
        utm=dict(tracking.utm),
        **extra,
    )


@view_config(route_name="quiz_public", request_method="GET", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def show_quiz(request: Request):
    limited = rate_limited(request, "view")
    if limited is not None:
        return limited
    public = load_public_quiz(request, recent=True)
    token = issue_token(secret(request), public.quiz.id)
    nonce = token.split(".")[2]
    tracking = Tracking.from_params(request.GET, request.referer)
    # Handed to the recorder: the page never waits for the write.
    shared(request.registry, FunnelRecorder).record(
        funnel_event(
            public.company.id,
            public.quiz.id,
            nonce,
            "view",
            tracking,
            visitor_hash(request),
            device=device_class(request.user_agent),
        )
    )
    notify_after_commit(request, "quiz_viewed", _quiz_event(public, nonce, tracking))
    response = request.response
    response.text = _visitor_page(request, public).fill(request, token, tracking.hidden_fields())
    response.headers["Cache-Control"] = "no-store"
    return response


def _visitor_page(request: Request, public: PublicQuiz):
    """The page of ``public`` that every visitor gets, rendered on its first view."""
    address = request.application_url
    page = public.pages.get(address)
    if page is None:
        # What the page's hooks read (pixels, a plugin's scripts) is this company's.
        bind_company(request.dbsession, public.company.id)
        context = page_context(request, public, token=TOKEN, tracking=Tracking())
        context.update(hidden_fields=Markup(HIDDEN), nonce=NONCE)
        page = render_page(request, PUBLIC_TEMPLATE, context)
        public.pages.put(address, page)
    return page


# First-party cookies the ad pixels set on the quiz page; their server events carry them.
PIXEL_COOKIES = ("_fbp", "_fbc", "_ttp")


def visitor_details(request: Request, public: PublicQuiz, landed_at: int, tracking: Tracking) -> dict[str, Any]:
    """What the visitor's request says about them, for plugins that report the conversion
    (the ad pixels): address, browser, the pixels' cookies, click ids, the landing page's
    address and when the page was opened (the form token's time)."""
    page_url = request.route_url("quiz_public", subscription_id=public.company.subscription_id, slug=public.quiz.slug)
    referer = request.referer or ""
    # The page posts to itself: its Referer is the landing address with its query.
    if referer.split("?", 1)[0] == page_url:
        page_url = referer
    return {
        "ip": request.client_ip,
        "user_agent": request.user_agent,
        "cookies": {name: request.cookies[name][:500] for name in PIXEL_COOKIES if request.cookies.get(name)},
        "click_ids": dict(tracking.click_ids),
        "page_url": page_url[:2000],
        "landed_at": landed_at,
    }


def _thanks_url(request: Request, public: PublicQuiz, nonce: str) -> str:
    if public.quiz.redirect_url:
        # Checked again: a value stored before the rules (or written around them) that
        # cannot go into a Location header sends the visitor to the thank-you page.
        address, problem = clean_web_url(public.quiz.redirect_url)
        if problem is None:
            return address
    return request.route_url(
        "quiz_public_thanks",
        subscription_id=public.company.subscription_id,
        slug=public.quiz.slug,
        token=nonce,
    )


def _see_thanks(request: Request, public: PublicQuiz, nonce: str) -> Response:
    # A plain 303: browsers follow it without reading a body, and it costs a fraction of
    # an HTTPSeeOther, whose body is rendered for every response.
    return Response(status=303, location=_thanks_url(request, public, nonce))


def _too_large(request: Request) -> Response:
    response = render_to_response(
        "quiz_message.jinja2",
        {
            "title": "Your answers are too long",
            "message": "Please shorten your answers and send them again.",
            "csrf_token": "",
        },
        request=request,
    )
    response.status_int = 413
    return response


def posted_form(request: Request) -> MultiDict:
    """The posted fields. An ordinary form body is parsed directly: WebOb's ``POST``
    reads it through :class:`cgi.FieldStorage`, at about twice the cost."""
    if request.content_type != "application/x-www-form-urlencoded":
        return request.POST
    try:
        body = request.body.decode(request.charset or "utf-8")
    except UnicodeDecodeError:
        return request.POST
    return MultiDict(parse_qsl(body, keep_blank_values=True))


@view_config(route_name="quiz_public", request_method="POST", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def submit_quiz(request: Request):
    if (request.content_length or 0) > MAX_SUBMIT_BYTES or len(request.body) > MAX_SUBMIT_BYTES:
        return _too_large(request)
    limited = rate_limited(request, "submit")
    if limited is not None:
        return limited
    public = load_public_quiz(request)
    quiz = public.quiz
    form = posted_form(request)
    tracking = Tracking.from_params(form)
    token = read_token(get_settings(request.registry).auth_secrets, form.get("token"), quiz.id)
    # A form posted again (double click, browser retry) meets the token's unique key when
    # its submission is inserted; the request then runs again and lands here.
    if token is not None and request.environ.get("retry.attempt", 0) > 0:
        existing = find_submission(request.dbsession, quiz.id, token.nonce)
        if existing is not None:
            # The same thank-you, nothing new stored.
            return _see_thanks(request, public, token.nonce)
    region = locale_of(public.company, get_settings(request.registry)).phone_region
    result = answers_module.read_answers(quiz, form, phone_region=region)

    def again(message: str | None, status: int, *, fresh: bool = False, errors=None) -> Response:
        current = form.get("token", "") if token is not None and not fresh else issue_token(secret(request), quiz.id)
        request.tm.doom()
        context = page_context(
            request, public, token=current, tracking=tracking, values=result.values, errors=errors, form_error=message
        )
        return _render(request, context, status)

    if token is None:
        return again("This form was not recognised. Please check your answers and send them again.", 400, fresh=True)
    if form.get(HONEYPOT, "").strip():
        return again("We could not accept this submission.", 400)
    age = token.age()
    if age < min_fill_seconds(request):
        return again("That was quick! Please check your answers, then send them again.", 400)
    if age > MAX_TOKEN_AGE_SECONDS:
        return again(
            "This page was open for a long time. Please check your answers and send them again.", 400, fresh=True
        )
    if not result.ok:
        return again(None, 400, errors=result.errors)
    if answers_module.answers_size(result.answers, result.contact) > answers_module.MAX_ANSWERS_BYTES:
        request.tm.doom()
        return _too_large(request)
    draft = Draft.of(
        quiz,
        token.nonce,
        result,
        tracking,
        ip_hash=visitor_hash(request),
        user_agent=request.user_agent,
        fill_seconds=int(min(age, 2**31 - 1)),
        steps_reported=form.get("steps") == "reported",
    )
    audit_info = AuditInfo(actor_name=f"quiz:{quiz.slug}", ip=request.client_ip, user_agent=request.user_agent)
    try:
        stored = store_submission(request.dbsession, draft, secret=secret(request), audit_info=audit_info)
    except IntegrityError as error:
        if not is_race(error):
            raise
        # A concurrent request with this token got there first: run this request again,
        # and it finds that request's submission.
        raise RetryableException("concurrent quiz submission") from error
    except AddressTaken as error:
        # A concurrent request created the lead for this address: run again and join it.
        raise RetryableException("concurrent quiz submission with the same address") from error
    recorder = shared(request.registry, FunnelRecorder)
    events = completion_events(
        draft, lambda kind, question_id: not recorder.seen(quiz.id, token.nonce, kind, question_id)
    )
    # Recorded once the submission is stored: a form that was not stored is not complete.
    request.tm.get().addAfterCommitHook(lambda committed: committed and recorder.record_steps(events))
    if events[0].kind == "start":
        notify_after_commit(request, "quiz_started", _quiz_event(public, token.nonce, tracking))
    if stored.created_lead:
        announce(request, "lead_created", lead_event(stored.lead, None))
    data = {
        "score": result.score,
        "outcome": result.outcome.title if result.outcome is not None else None,
        "created_lead": stored.created_lead,
        "consent": result.consent,
        "visitor": visitor_details(request, public, token.issued_at, tracking),
    }
    notify_after_commit(
        request,
        "quiz_submitted",
        _quiz_event(
            public,
            token.nonce,
            tracking,
            lead_id=stored.lead.id,
            submission_id=stored.submission.id,
            data=data,
        ),
    )
    return _see_thanks(request, public, token.nonce)


@view_config(
    route_name="quiz_public_thanks",
    request_method="GET",
    permission=NO_PERMISSION_REQUIRED,
    require_csrf=False,
)
def thanks(request: Request):
    public = load_public_quiz(request, published_only=False)
    submission = find_submission(request.dbsession, public.quiz.id, request.matchdict["token"])
    if submission is None:
        raise HTTPNotFound()
    outcome = next((o for o in public.quiz.outcomes if o.id == submission.outcome_id), None)
    context = {
        "quiz": public.quiz,
        "company": public.company,
        "submission": submission,
        "outcome": outcome,
        "outcome_title": submission.outcome_title,
        "theme_url": request.route_url("quiz_theme", color=public.quiz.brand_color.lstrip("#").lower()),
        "page_scripts": public_page_scripts(
            request,
            PublicPage(
                "quiz_thanks",
                public.company.id,
                public.quiz.id,
                {"submission_id": submission.id, "consent": submission.consent},
            ),
        ),
        "csrf_token": "",
        "identity": None,
        "nav": [],
        "settings_nav": [],
    }
    response = render_to_response("quiz_thanks.jinja2", context, request=request)
    response.headers["Cache-Control"] = "no-store"
    return response


STEP_KINDS = ("start", "answer")


@view_config(
    route_name="quiz_public_events",
    request_method="POST",
    renderer="json",
    permission=NO_PERMISSION_REQUIRED,
    require_csrf=False,
)
def step_event(request: Request):
    """The page's script reports "started" and "answered question N" as the visitor goes."""
    limited = rate_limited(request, "event")
    if limited is not None:
        return limited
    if (request.content_length or 0) > 4096:
        return _json_error(request, 413, "The request is too large.")
    public = load_public_quiz(request, recent=True)
    try:
        body = request.json_body
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _json_error(request, 400, "Send a JSON object.")
    token = read_token(get_settings(request.registry).auth_secrets, str(body.get("token") or ""), public.quiz.id)
    if token is None or token.age() > MAX_TOKEN_AGE_SECONDS:
        return _json_error(request, 400, "Unknown form token.")
    kind = body.get("kind")
    if kind not in STEP_KINDS:
        return _json_error(request, 400, "kind must be start or answer.")
    question_id = None
    if kind == "answer":
        ids = {question.id for question in public.quiz.questions}
        question_id = parse_id(body.get("question_id"))
        if question_id not in ids:
            return _json_error(request, 400, "question_id must be a question of this quiz.")
    tracking = Tracking.from_params({k: v for k, v in body.items() if isinstance(v, str)})
    recorder = shared(request.registry, FunnelRecorder)
    # A step the page reports twice is recorded once by this process; funnel readers count
    # distinct forms, so one reported to two processes still counts once.
    new = recorder.first_time(public.quiz.id, token.nonce, kind, question_id)
    if new:
        recorder.record(
            funnel_event(
                public.company.id,
                public.quiz.id,
                token.nonce,
                kind,
                tracking,
                visitor_hash(request),
                question_id,
                device=device_class(request.user_agent),
            )
        )
    if new and kind == "start":
        notify_after_commit(request, "quiz_started", _quiz_event(public, token.nonce, tracking))
    return {"recorded": new}


def _json_error(request: Request, status: int, message: str) -> Response:
    request.tm.doom()
    response = Response(json_body={"error": {"code": "bad_request" if status == 400 else "error", "message": message}})
    response.status_int = status
    return response


INK = (0x0F, 0x17, 0x2A)
WHITE = (0xFF, 0xFF, 0xFF)


def _luminance(rgb: tuple[int, ...]) -> float:
    """WCAG relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: tuple[int, ...], second: tuple[int, ...]) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@view_config(route_name="quiz_theme", request_method="GET", permission=NO_PERMISSION_REQUIRED, require_csrf=False)
def theme(request: Request):
    """The quiz's colours as CSS custom properties: a stylesheet, so the strict CSP holds.
    Text on the brand colour is dark or white, whichever reads better; the brand as text on
    white is darkened until it meets WCAG AA (4.5:1)."""
    color = request.matchdict["color"].lower()
    brand = tuple(int(color[i : i + 2], 16) for i in (0, 2, 4))
    ink = "#0f172a" if contrast_ratio(brand, INK) > contrast_ratio(brand, WHITE) else "#ffffff"
    text = brand
    while contrast_ratio(text, WHITE) < 4.5:
        text = tuple(round(c * 0.9 + d * 0.1) for c, d in zip(text, INK, strict=True))
    css = (
        f":root {{ --quiz-brand: #{color}; --quiz-on-brand: {ink}; --quiz-brand-soft: #{color}1a; "
        f"--quiz-brand-text: #{''.join(f'{c:02x}' for c in text)}; }}\n"
    )
    response = Response(css, content_type="text/css", charset="utf-8")
    response.cache_control = "public, max-age=31536000, immutable"
    return response
