"""Turning a completed quiz into a stored submission and a lead, in one transaction.

The lead goes through the core's lead services, so it behaves like every other lead: it
lands at the top of the company's first open stage, gets its timeline and its audit entry.
A submission whose e-mail address the company already has joins that lead's timeline
(activity ``quiz``) instead of creating a twin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from zope.sqlalchemy import mark_changed

from orbitflow.leads.models import Lead
from orbitflow.leads.services import AuditInfo, add_activity, create_lead, find_lead_by_email
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company
from orbitflow_plugins.quiz.answers import Result
from orbitflow_plugins.quiz.models import Quiz, QuizContactKey, QuizFunnelEvent, QuizSubmission
from orbitflow_plugins.quiz.tokens import hash_value

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
CLICK_ID_KEYS = ("fbclid", "ttclid", "gclid")
# Constraints whose violation means "a concurrent request got there first": retry the
# request, and it will find that request's rows.
RACE_CONSTRAINTS = ("uq_quiz_submissions_token", "quiz_submissions.token", "uq_quiz_contact_keys", "quiz_contact_keys.")


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
class Submitted:
    submission: QuizSubmission
    lead: Lead
    created_lead: bool
    started_now: bool = False

    @property
    def lead_id(self) -> int:
        return self.lead.id


def is_race(error: IntegrityError) -> bool:
    text = str(error.orig) if error.orig is not None else str(error)
    return any(name in text for name in RACE_CONSTRAINTS)


def find_submission(session: Session, quiz_id: int, nonce: str) -> QuizSubmission | None:
    return session.scalars(
        select(QuizSubmission).where(QuizSubmission.token == nonce, QuizSubmission.quiz_id == quiz_id)
    ).first()


def _lock_contact(session: Session, company_id: int, secret: str, email: str) -> None:
    """Serialise submissions with the same address (see :class:`QuizContactKey`).

    One upsert takes the row lock whether the key exists or not: a concurrent request
    with the same address waits here until this one commits, then finds its lead."""
    email_hash = hash_value(secret, "email", f"{company_id}|{email}")
    values = {"company_id": company_id, "email_hash": email_hash, "created_at": utcnow()}
    table = QuizContactKey.__table__
    if session.get_bind().dialect.name == "sqlite":
        # SQLite runs one writer at a time: the write lock taken here does the serialising.
        statement = sqlite_insert(table).values(values).on_conflict_do_nothing()
    else:
        statement = mysql_insert(table).values(values)
        statement = statement.on_duplicate_key_update(email_hash=statement.inserted.email_hash)
    session.execute(statement)
    mark_changed(session)


def lead_name(result: Result) -> str:
    contact = result.contact
    if contact.get("name"):
        return contact["name"]
    if contact.get("email"):
        return contact["email"].split("@")[0]
    return contact.get("phone") or "Quiz visitor"


def record_submission(
    session: Session,
    *,
    company: Company,
    quiz: Quiz,
    result: Result,
    nonce: str,
    tracking: Tracking,
    secret: str | None,
    ip_hash: str | None = None,
    user_agent: str | None = None,
    fill_seconds: int | None = None,
    created_at=None,
    steps_reported: bool = False,
) -> Submitted:
    """Store the submission and its lead. Raises :class:`IntegrityError` when a concurrent
    request used the same token or created the lead for the same address first (the
    caller retries the request; see :func:`is_race`). Without ``secret`` (seeding data,
    where nothing runs concurrently) same-address submissions are not serialised."""
    email = result.contact.get("email")
    lead: Lead | None = None
    if email:
        if secret:
            _lock_contact(session, company.id, secret, email)
        lead = find_lead_by_email(session, email, company_id=company.id)
    created = lead is None
    if lead is None:
        lead = create_lead(
            session,
            company_id=company.id,
            actor_id=None,
            name=lead_name(result),
            email=email,
            phone=result.contact.get("phone"),
            source="quiz",
            utm=tracking.utm,
            referrer=tracking.referrer,
            consent=result.consent,
            audit_info=AuditInfo(actor_name=f"quiz:{quiz.slug}", user_agent=user_agent),
        )
    outcome = result.outcome
    submission = QuizSubmission(
        company_id=company.id,
        quiz_id=quiz.id,
        lead_id=lead.id,
        created_lead=created,
        token=nonce,
        answers=result.answers,
        contact=result.contact,
        score=result.score,
        outcome_id=outcome.id if outcome is not None else None,
        outcome_title=outcome.title if outcome is not None else None,
        consent=result.consent,
        referrer=tracking.referrer,
        click_ids=tracking.click_ids or None,
        ip_hash=ip_hash,
        user_agent=(user_agent or "")[:300] or None,
        fill_seconds=fill_seconds,
        **{key: tracking.utm.get(key) for key in UTM_KEYS},
    )
    if created_at is not None:
        submission.created_at = created_at
    session.add(submission)
    session.flush()
    activity = add_activity(
        session,
        lead,
        "quiz",
        {
            "quiz": quiz.title,
            "quiz_id": quiz.id,
            "submission_id": submission.id,
            "score": result.score,
            "outcome": submission.outcome_title,
            "answers": [{"question": a["question"], "answer": a["answer"]} for a in result.answers],
            **({"contact": result.contact} if not created else {}),
        },
    )
    if created_at is not None:
        activity.created_at = created_at
    started_now = _complete_funnel(
        session, company.id, quiz, nonce, result, tracking, ip_hash, created_at, steps_reported
    )
    session.flush()
    return Submitted(submission, lead, created, started_now)


def _complete_funnel(
    session: Session,
    company_id: int,
    quiz: Quiz,
    nonce: str,
    result: Result,
    tracking: Tracking,
    ip_hash: str | None,
    created_at,
    steps_reported: bool,
) -> bool:
    """Add the steps a visitor without JavaScript could not report, then "complete".

    Only a page whose script ran can have reported steps; without it there is nothing to
    look up. Returns whether "start" was recorded now."""
    seen: set[tuple[str, int | None]] = set()
    if steps_reported:
        seen = set(
            session.execute(
                select(QuizFunnelEvent.kind, QuizFunnelEvent.question_id).where(
                    QuizFunnelEvent.session_key == nonce, QuizFunnelEvent.quiz_id == quiz.id
                )
            )
        )
    wanted: list[tuple[str, int | None]] = [("start", None)]
    wanted += [("answer", answer["question_id"]) for answer in result.answers]
    wanted.append(("complete", None))
    when = created_at or utcnow()
    rows = [
        {
            "company_id": company_id,
            "quiz_id": quiz.id,
            "session_key": nonce,
            "kind": kind,
            "question_id": question_id,
            "utm_source": tracking.utm.get("utm_source"),
            "utm_medium": tracking.utm.get("utm_medium"),
            "utm_campaign": tracking.utm.get("utm_campaign"),
            "ip_hash": ip_hash,
            "created_at": when,
        }
        for kind, question_id in wanted
        if (kind, question_id) not in seen
    ]
    session.execute(insert(QuizFunnelEvent.__table__), rows)
    mark_changed(session)
    return ("start", None) not in seen


def funnel_event(
    company_id: int,
    quiz_id: int,
    nonce: str,
    kind: str,
    tracking: Tracking,
    ip_hash: str | None,
    question_id: int | None = None,
    created_at=None,
) -> QuizFunnelEvent:
    event = QuizFunnelEvent(
        company_id=company_id,
        quiz_id=quiz_id,
        session_key=nonce,
        kind=kind,
        question_id=question_id,
        utm_source=tracking.utm.get("utm_source"),
        utm_medium=tracking.utm.get("utm_medium"),
        utm_campaign=tracking.utm.get("utm_campaign"),
        ip_hash=ip_hash,
    )
    if created_at is not None:
        event.created_at = created_at
    return event


def record_step(
    session: Session,
    company_id: int,
    quiz: Quiz,
    nonce: str,
    kind: str,
    question_id: int | None,
    tracking: Tracking,
    ip_hash: str | None,
) -> bool:
    """Store a step reported by the page's script once per form; True when it is new."""
    exists = session.scalar(
        select(QuizFunnelEvent.id)
        .where(
            QuizFunnelEvent.session_key == nonce,
            QuizFunnelEvent.quiz_id == quiz.id,
            QuizFunnelEvent.kind == kind,
            QuizFunnelEvent.question_id.is_(None)
            if question_id is None
            else QuizFunnelEvent.question_id == question_id,
        )
        .limit(1)
    )
    if exists is not None:
        return False
    session.add(funnel_event(company_id, quiz.id, nonce, kind, tracking, ip_hash, question_id))
    session.flush()
    return True


def answers_for_display(submission: QuizSubmission) -> list[dict[str, Any]]:
    return [{"question": a.get("question"), "answer": a.get("answer")} for a in submission.answers or []]
