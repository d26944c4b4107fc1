"""Turning a completed quiz into a stored submission and its lead, in the request's transaction.

The lead comes from the core's lead service (:func:`orbitflow.leads.services.create_lead`),
so it behaves like every other lead: it lands at the top of the company's first open
stage, gets its timeline and its audit entry, and the owner the quiz's assignment rule
picks (:mod:`orbitflow_plugins.quiz.assignment`). A submission whose e-mail address the
company already has joins that lead's timeline (activity ``quiz``) instead of creating a
twin: its oldest lead with that address.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from orbitflow.accounts.models import User
from orbitflow.leads.models import Lead
from orbitflow.leads.services import (
    AuditInfo,
    add_activity,
    create_lead,
    find_lead_by_email,
    other_lead_has_email,
)
from orbitflow.models.meta import utcnow
from orbitflow_plugins.quiz.answers import Result
from orbitflow_plugins.quiz.assignment import NO_RULE, Rule, choose_owner
from orbitflow_plugins.quiz.devices import device_class
from orbitflow_plugins.quiz.models import Quiz, QuizContactKey, QuizSubmission
from orbitflow_plugins.quiz.recorder import FunnelEvent
from orbitflow_plugins.quiz.tokens import hash_value

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
CLICK_ID_KEYS = ("fbclid", "ttclid", "gclid")
# Constraints whose violation means "a concurrent request got there first": retry the
# request, and it will find that request's rows.
RACE_CONSTRAINTS = ("uq_quiz_submissions_token", "quiz_submissions.token", "uq_quiz_contact_keys", "quiz_contact_keys.")

CONTACT_KEYS = QuizContactKey.__table__
# Built once: they run on every submission that creates a lead.
_upsert_contact = mysql_insert(CONTACT_KEYS)
CLAIM_CONTACT_MARIADB = _upsert_contact.on_duplicate_key_update(email_hash=_upsert_contact.inserted.email_hash)
# SQLite runs one writer at a time: the write lock the insert takes does the serialising.
CLAIM_CONTACT_SQLITE = sqlite_insert(CONTACT_KEYS).on_conflict_do_nothing()


class AddressTaken(Exception):
    """A concurrent submission created the company's lead for this address first."""


@dataclass(frozen=True)
class Tracking:
    """Where the visitor came from, captured on the landing URL and kept through the steps."""

    utm: dict[str, str] = field(default_factory=dict)
    referrer: str | None = None
    click_ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params, referrer: str | None = None) -> Tracking:
        def value(name: str, limit: int) -> str | None:
            raw = params.get(name)
            text = str(raw).strip()[:limit] if raw is not None else ""
            return text or None

        utm = {key: v for key in UTM_KEYS if (v := value(key, 200))}
        click_ids = {key: v for key in CLICK_ID_KEYS if (v := value(key, 500))}
        ref = value("referrer", 1000) if "referrer" in params else (referrer or "")[:1000] or None
        return cls(utm, ref, click_ids)

    def hidden_fields(self) -> dict[str, str]:
        fields = {**self.utm, **self.click_ids}
        if self.referrer:
            fields["referrer"] = self.referrer
        return fields


@dataclass(frozen=True)
class OutcomeRef:
    """The outcome a submission reached, as stored with it."""

    id: int
    title: str


@dataclass(frozen=True)
class Draft:
    """A checked submission, ready to be stored: the answers are valid and scored."""

    company_id: int
    quiz_id: int
    quiz_title: str
    quiz_slug: str
    nonce: str
    result: Result
    tracking: Tracking
    ip_hash: str | None = None
    user_agent: str | None = None
    fill_seconds: int | None = None
    # The page's script reported the steps (start, answers) as the visitor went.
    steps_reported: bool = False
    # Set for back-dated rows (demo data); otherwise now.
    created_at: datetime | None = None
    # Who gets the lead the submission creates (orbitflow_plugins.quiz.assignment).
    rule: Rule = NO_RULE

    @classmethod
    def of(cls, quiz: Quiz, nonce: str, result: Result, tracking: Tracking, **details: Any) -> Draft:
        # The outcome's id and title only: the draft outlives the request's session.
        outcome = result.outcome
        result = replace(
            result, outcome=OutcomeRef(outcome.id, outcome.title) if outcome is not None else None, values={}
        )
        details.setdefault("rule", Rule.of(quiz))
        return cls(quiz.company_id, quiz.id, quiz.title, quiz.slug, nonce, result, tracking, **details)

    @property
    def email(self) -> str | None:
        return self.result.contact.get("email")


@dataclass(frozen=True)
class Stored:
    submission: QuizSubmission
    lead: Lead
    # False when the submission joined a lead the company already had.
    created_lead: bool
    # The owner the quiz's rule gave a new lead (kept loaded for the lead's announcement).
    owner: User | None = None


def is_race(error: IntegrityError) -> bool:
    text = str(error.orig) if error.orig is not None else str(error)
    return any(name in text for name in RACE_CONSTRAINTS)


def find_submission(session: Session, quiz_id: int, nonce: str) -> QuizSubmission | None:
    return session.scalars(
        select(QuizSubmission).where(QuizSubmission.token == nonce, QuizSubmission.quiz_id == quiz_id)
    ).first()


def lead_name(result: Result) -> str:
    contact = result.contact
    if contact.get("name"):
        return contact["name"]
    if contact.get("email"):
        return contact["email"].split("@")[0]
    return contact.get("phone") or "Quiz visitor"


def store_submission(session: Session, draft: Draft, *, secret: str | None, audit_info: AuditInfo) -> Stored:
    """Store the submission and, unless the company has one with its address, its lead, in
    the session's transaction (the session is bound to the draft's company).

    Raises :class:`IntegrityError` when a concurrent transaction used the same form token
    first (see :func:`is_race`). Without ``secret`` (seeding data, where nothing runs
    concurrently) same-address submissions are not serialised."""
    contact = draft.result.contact
    email = draft.email
    lead = find_lead_by_email(session, email, company_id=draft.company_id) if email else None
    created = lead is None
    owner = None
    if lead is None:
        outcome = draft.result.outcome
        owner = choose_owner(
            session, draft.company_id, draft.quiz_id, draft.rule, outcome.id if outcome is not None else None
        )
        lead = create_lead(
            session,
            company_id=draft.company_id,
            actor_id=None,
            name=lead_name(draft.result),
            email=email,
            phone=contact.get("phone"),
            source="quiz",
            owner_id=owner.id if owner is not None else None,
            utm=draft.tracking.utm,
            referrer=draft.tracking.referrer,
            consent=draft.result.consent,
            audit_info=audit_info,
            created_at=draft.created_at,
        )
        if secret and email:
            claim_contact(session, secret, draft.company_id, email, lead.id)
    submission = QuizSubmission(**_submission_fields(draft, lead.id, created))
    session.add(submission)
    # The token's unique key is checked here, before the timeline line is written.
    session.flush()
    line = add_activity(session, lead, "quiz", _timeline_data(draft, submission.id, created))
    if draft.created_at is not None:
        line.created_at = draft.created_at
    return Stored(submission=submission, lead=lead, created_lead=created, owner=owner)


def claim_contact(session: Session, secret: str, company_id: int, email: str, lead_id: int) -> None:
    """Claim the address for the lead this transaction created (see :class:`QuizContactKey`).

    The upsert locks the address's key row until commit, so a concurrent submission with
    the same address waits here for this one to commit; it then finds this lead and
    raises :class:`AddressTaken` (its request runs again and joins the lead). Done after
    the lead is created, so the lock is held only for the rest of the transaction."""
    row = {
        "company_id": company_id,
        "email_hash": hash_value(secret, "email", f"{company_id}|{email}"),
        "created_at": utcnow(),
    }
    sqlite = session.get_bind().dialect.name == "sqlite"
    session.execute(CLAIM_CONTACT_SQLITE if sqlite else CLAIM_CONTACT_MARIADB, row)
    mark_changed(session)
    # Any other lead with the address was committed by the transaction that claimed it
    # first, whichever of the two leads was created earlier.
    if other_lead_has_email(session, email, company_id=company_id, lead_id=lead_id):
        raise AddressTaken(email)


def _submission_fields(draft: Draft, lead_id: int, created_lead: bool) -> dict[str, Any]:
    result, tracking = draft.result, draft.tracking
    outcome = result.outcome
    return {
        "company_id": draft.company_id,
        "quiz_id": draft.quiz_id,
        "lead_id": lead_id,
        "created_lead": created_lead,
        "token": draft.nonce,
        "answers": result.answers,
        "contact": result.contact,
        "score": result.score,
        "outcome_id": outcome.id if outcome is not None else None,
        "outcome_title": outcome.title if outcome is not None else None,
        "consent": result.consent,
        "referrer": tracking.referrer,
        "click_ids": tracking.click_ids or None,
        "ip_hash": draft.ip_hash,
        "user_agent": (draft.user_agent or "")[:300] or None,
        "fill_seconds": draft.fill_seconds,
        "created_at": draft.created_at or utcnow(),
        **{key: tracking.utm.get(key) for key in UTM_KEYS},
    }


def _timeline_data(draft: Draft, submission_id: int, created_lead: bool) -> dict[str, Any]:
    result = draft.result
    outcome = result.outcome
    return {
        "quiz": draft.quiz_title,
        "quiz_id": draft.quiz_id,
        "submission_id": submission_id,
        "score": result.score,
        "outcome": outcome.title if outcome is not None else None,
        "answers": [{"question": a["question"], "answer": a["answer"]} for a in result.answers],
        # A returning visitor may have given other contact details this time.
        **({"contact": result.contact} if not created_lead else {}),
    }


def completion_events(draft: Draft, is_new) -> list[FunnelEvent]:
    """The funnel steps of a completed form: "start" and each answer unless ``is_new``
    (a callable ``(kind, question_id) -> bool``) says they were recorded already, then
    "complete"."""
    wanted: list[tuple[str, int | None]] = [("start", None)]
    wanted += [("answer", answer["question_id"]) for answer in draft.result.answers]
    wanted.append(("complete", None))
    return [
        funnel_event(
            draft.company_id,
            draft.quiz_id,
            draft.nonce,
            kind,
            draft.tracking,
            draft.ip_hash,
            question_id,
            draft.created_at,
            device=device_class(draft.user_agent),
        )
        for kind, question_id in wanted
        if kind == "complete" or is_new(kind, question_id)
    ]


def funnel_event(
    company_id: int,
    quiz_id: int,
    nonce: str,
    kind: str,
    tracking: Tracking,
    ip_hash: str | None,
    question_id: int | None = None,
    created_at: datetime | None = None,
    *,
    device: str | None = None,
) -> FunnelEvent:
    """A funnel step for the recorder (:mod:`orbitflow_plugins.quiz.recorder`)."""
    return FunnelEvent(
        company_id=company_id,
        quiz_id=quiz_id,
        session_key=nonce,
        kind=kind,
        question_id=question_id,
        utm_source=tracking.utm.get("utm_source"),
        utm_medium=tracking.utm.get("utm_medium"),
        utm_campaign=tracking.utm.get("utm_campaign"),
        ip_hash=ip_hash,
        device=device,
        created_at=created_at or utcnow(),
    )


def answers_for_display(submission: QuizSubmission) -> list[dict[str, Any]]:
    return [{"question": a.get("question"), "answer": a.get("answer")} for a in submission.answers or []]
