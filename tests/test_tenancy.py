"""The tenant-scoping mechanism: a session bound to company A never sees company B's rows."""

import pytest
from sqlalchemy import select, update

from orbitflow.accounts.models import User
from orbitflow.db import TenantScopeError, bind_company, make_session_factory, unscoped
from orbitflow.leads.models import Lead, LeadNote, Stage


@pytest.fixture
def two_companies(db, make_company, make_user):
    a, b = make_company(name="Alpha"), make_company(name="Beta")
    users = {c.id: make_user(c, "OWNER") for c in (a, b)}
    for company in (a, b):
        stage = db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).first()
        lead = Lead(
            company_id=company.id, name=f"Lead of {company.name}", stage_id=stage.id, owner_id=users[company.id].id
        )
        db.add(lead)
        db.flush()
        db.add(LeadNote(company_id=company.id, lead_id=lead.id, body=f"note of {company.name}"))
    db.commit()
    return a, b


@pytest.fixture
def scoped_session(backend):
    session = make_session_factory(backend.engine)()
    yield session
    session.close()


def test_queries_see_only_the_bound_company(two_companies, scoped_session):
    a, _ = two_companies
    bind_company(scoped_session, a.id)
    assert {lead.name for lead in scoped_session.scalars(select(Lead))} == {"Lead of Alpha"}
    assert {user.company_id for user in scoped_session.scalars(select(User))} == {a.id}
    assert all(stage.company_id == a.id for stage in scoped_session.scalars(select(Stage)))


def test_session_get_of_another_company_row_is_none(two_companies, scoped_session, db):
    a, b = two_companies
    b_lead_id = db.scalar(select(Lead.id).where(Lead.company_id == b.id))
    bind_company(scoped_session, a.id)
    assert scoped_session.get(Lead, b_lead_id) is None


def test_relationships_and_joins_are_scoped(two_companies, scoped_session, db):
    a, b = two_companies
    bind_company(scoped_session, a.id)
    lead = scoped_session.scalars(select(Lead)).one()
    assert lead.stage.company_id == a.id
    assert lead.owner.company_id == a.id
    # A join through a tenant-owned table is limited on both sides.
    rows = scoped_session.execute(select(Lead.name, LeadNote.body).join(LeadNote, LeadNote.lead_id == Lead.id)).all()
    assert rows == [("Lead of Alpha", "note of Alpha")]
    # Even a join that names the other company's id explicitly finds nothing.
    stolen = scoped_session.scalars(select(LeadNote).where(LeadNote.company_id == b.id)).all()
    assert stolen == []


def test_bulk_update_cannot_touch_another_company(two_companies, scoped_session, db):
    a, b = two_companies
    bind_company(scoped_session, a.id)
    scoped_session.execute(update(Lead).values(name="renamed").execution_options(synchronize_session=False))
    scoped_session.commit()
    db.expire_all()
    names = dict(db.execute(select(Lead.company_id, Lead.name)).all())
    assert names == {a.id: "renamed", b.id: "Lead of Beta"}


def test_unbound_session_refuses_tenant_queries(two_companies, scoped_session):
    with pytest.raises(TenantScopeError):
        scoped_session.scalars(select(Lead)).all()


def test_unscoped_crosses_tenants_on_purpose(two_companies, scoped_session):
    bind_company(scoped_session, two_companies[0].id)
    with unscoped(scoped_session):
        assert len(scoped_session.scalars(select(Lead)).all()) == 2


def test_new_rows_get_the_bound_company_and_foreign_rows_are_refused(two_companies, scoped_session):
    a, b = two_companies
    bind_company(scoped_session, a.id)
    stage = scoped_session.scalars(select(Stage)).first()
    lead = Lead(name="New", stage_id=stage.id)
    scoped_session.add(lead)
    scoped_session.flush()
    assert lead.company_id == a.id
    scoped_session.add(Lead(name="Smuggled", stage_id=stage.id, company_id=b.id))
    with pytest.raises(TenantScopeError):
        scoped_session.flush()
    scoped_session.rollback()
