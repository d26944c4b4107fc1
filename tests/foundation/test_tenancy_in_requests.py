"""Tenant scoping as a request meets it: signed in to company A, no ORM path (query,
``session.get``, lazy, joined and select-in relationship loads, joins) returns a row of
company B, even when rows of A point at rows of B."""

from __future__ import annotations

from sqlalchemy import select

from orbitflow.leads.models import Lead, LeadNote, LeadTag, Stage
from support import login


def first_stage(db, company) -> Stage:
    return db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).first()


def test_a_request_bound_to_company_a_never_sees_company_b(probe_client, db, make_company, make_user):
    alpha, beta = make_company(name="Alpha"), make_company(name="Beta")
    alice = make_user(alpha, "OWNER", username="alice")
    bob = make_user(beta, "OWNER", username="bob")
    own = Lead(company_id=alpha.id, name="Alpha lead", stage_id=first_stage(db, alpha).id, owner_id=alice.id)
    foreign = Lead(company_id=beta.id, name="Beta lead", stage_id=first_stage(db, beta).id, owner_id=bob.id)
    # A lead of A that points at B's owner and B's stage (a bug or a crafted import).
    crossed = Lead(company_id=alpha.id, name="Crossed lead", stage_id=first_stage(db, beta).id, owner_id=bob.id)
    db.add_all([own, foreign, crossed])
    db.flush()
    db.add_all(
        [
            LeadTag(company_id=alpha.id, lead_id=crossed.id, tag="alpha-tag"),
            # B's rows hanging off A's lead.
            LeadTag(company_id=beta.id, lead_id=crossed.id, tag="beta-tag"),
            LeadNote(company_id=alpha.id, lead_id=own.id, body="alpha note"),
            LeadNote(company_id=beta.id, lead_id=foreign.id, body="beta note"),
            LeadNote(company_id=beta.id, lead_id=own.id, body="beta note on an alpha lead"),
        ]
    )
    db.commit()

    login(probe_client, alice)
    seen = probe_client.get("/api/probe/tenancy", {"lead_id": crossed.id, "foreign_lead_id": foreign.id}).json
    assert seen["company_id"] == alpha.id
    assert seen["lead_names"] == ["Alpha lead", "Crossed lead"]
    assert seen["lead_count"] == 2
    assert seen["user_companies"] == [alpha.id]
    assert seen["stage_companies"] == [alpha.id]
    assert seen["foreign_get"] is False
    assert seen["foreign_by_id"] is False
    assert seen["lazy_owner"] is None
    assert seen["lazy_stage"] is None
    assert seen["joined_owner"] is None
    assert seen["lazy_tags"] == ["alpha-tag"]
    assert seen["selectin_tags"] == ["alpha-tag"]
    assert seen["notes"] == ["alpha note"]

    # And the same lead, from B's side: nothing of A.
    other = probe_client.__class__(probe_client.app, extra_environ=probe_client.extra_environ)
    login(other, bob)
    seen_by_b = other.get("/api/probe/tenancy", {"lead_id": foreign.id, "foreign_lead_id": own.id}).json
    assert seen_by_b["lead_names"] == ["Beta lead"]
    assert seen_by_b["foreign_get"] is False
    assert seen_by_b["lazy_owner"] == "bob"
    assert seen_by_b["notes"] == ["beta note"]
