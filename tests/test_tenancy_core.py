"""Core statements through a session: one on a tenant-owned table that does not name the
company is refused before it reaches the database, so no statement can forget it."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, delete, func, insert, select, text, update

from orbitflow.db import CoreTenantError, bind_company, make_session_factory, unscoped
from orbitflow.leads.models import Lead, LeadNote, Stage
from orbitflow.models.meta import utcnow
from orbitflow.tenants.models import Company

LEADS = Lead.__table__
NOTES = LeadNote.__table__


@pytest.fixture
def two_companies(db, make_company, make_user):
    a, b = make_company(name="Alpha"), make_company(name="Beta")
    for company in (a, b):
        owner = make_user(company, "OWNER")
        stage = db.scalars(select(Stage).where(Stage.company_id == company.id).order_by(Stage.position)).first()
        lead = Lead(company_id=company.id, name=f"Lead of {company.name}", stage_id=stage.id, owner_id=owner.id)
        db.add(lead)
        db.flush()
        db.add(LeadNote(company_id=company.id, lead_id=lead.id, body=f"note of {company.name}"))
    db.commit()
    return a, b


@pytest.fixture
def session_of(backend):
    """A session bound to a company, as a request's is; rolled back and closed after the test."""
    sessions = []

    def make(company):
        session = make_session_factory(backend.engine)()
        bind_company(session, company.id if company is not None else None)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.rollback()
        session.close()


def lead_names(backend) -> dict[int, str]:
    """Every lead as the database has it, through a connection of its own."""
    with backend.engine.connect() as connection:
        return dict(connection.execute(select(LEADS.c.company_id, LEADS.c.name)).all())


def test_a_core_update_without_the_company_criterion_raises_and_changes_nothing(two_companies, session_of, backend):
    a, b = two_companies
    session = session_of(a)
    with pytest.raises(CoreTenantError, match="Core UPDATE on tenant-owned leads does not compare company_id"):
        session.execute(update(LEADS).values(name="Overwritten"))
    session.rollback()
    assert lead_names(backend) == {a.id: "Lead of Alpha", b.id: "Lead of Beta"}


def test_a_core_update_with_the_company_criterion_runs(two_companies, session_of, backend):
    a, b = two_companies
    session = session_of(a)
    session.execute(update(LEADS).where(LEADS.c.company_id == a.id).values(name="Renamed"))
    session.commit()
    assert lead_names(backend) == {a.id: "Renamed", b.id: "Lead of Beta"}


@pytest.mark.parametrize(
    "statement",
    [
        lambda: select(LEADS.c.name),
        lambda: select(func.count()).select_from(LEADS),
        lambda: select(LEADS.c.company_id, LEADS.c.name),  # selecting the column is not a criterion
        lambda: select(LEADS.c.name).where(LEADS.c.id > 0),
        lambda: delete(NOTES),
        lambda: delete(NOTES).where(NOTES.c.body == "note of Beta"),
        # Each tenant-owned table of a join names its company.
        lambda: (
            select(LEADS.c.name, NOTES.c.body)
            .join(NOTES, NOTES.c.lead_id == LEADS.c.id)
            .where(LEADS.c.company_id.is_not(None))
        ),
        # A subquery counts too.
        lambda: select(LEADS.c.name).where(LEADS.c.company_id.is_not(None), LEADS.c.id.in_(select(NOTES.c.lead_id))),
        lambda: select(LEADS.alias("other").c.name),
    ],
)
def test_core_reads_and_deletes_without_the_company_are_refused(two_companies, session_of, backend, statement):
    a, _ = two_companies
    with pytest.raises(CoreTenantError, match="does not compare company_id"):
        session_of(a).execute(statement())
    with backend.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(NOTES)) == 2


def test_core_reads_that_name_the_company_run(two_companies, session_of):
    a, b = two_companies
    session = session_of(a)
    assert session.execute(select(LEADS.c.name).where(LEADS.c.company_id == a.id)).scalars().all() == ["Lead of Alpha"]
    joined = select(LEADS.c.name, NOTES.c.body).join(
        NOTES, (NOTES.c.lead_id == LEADS.c.id) & (NOTES.c.company_id == LEADS.c.company_id)
    )
    assert session.execute(joined.where(LEADS.c.company_id == a.id)).all() == [("Lead of Alpha", "note of Alpha")]
    # Naming another company than the session's is refused.
    with pytest.raises(CoreTenantError, match=f"names company {b.id} from a session bound to {a.id}"):
        session.execute(joined.where(LEADS.c.company_id == b.id))
    session.rollback()
    # Tables that are not tenant-owned need nothing.
    assert session.execute(select(Company.__table__.c.name).order_by(Company.__table__.c.id)).scalars().all() == [
        "Alpha",
        "Beta",
    ]


def test_an_insert_must_carry_the_company(two_companies, session_of, backend):
    a, b = two_companies
    session = session_of(a)
    lead_id = session.execute(select(LEADS.c.id).where(LEADS.c.company_id == a.id)).scalar_one()
    row = {"lead_id": lead_id, "body": "added", "created_at": utcnow()}
    with pytest.raises(CoreTenantError, match="INSERT into tenant-owned lead_notes without company_id"):
        session.execute(insert(NOTES), row)
    session.rollback()
    with pytest.raises(CoreTenantError, match="INSERT into tenant-owned lead_notes without company_id"):
        session.execute(insert(NOTES).values(**row))
    session.rollback()
    # An ORM bulk insert is not stamped by the flush: the same rule.
    with pytest.raises(CoreTenantError, match="without company_id"):
        session.execute(insert(LeadNote), [row])
    session.rollback()
    with pytest.raises(CoreTenantError, match=f"for company {b.id} from a session bound to {a.id}"):
        session.execute(insert(NOTES), {**row, "company_id": b.id})
    session.rollback()
    session.execute(insert(NOTES), {**row, "company_id": a.id})
    session.commit()
    with backend.engine.connect() as connection:
        bodies = connection.execute(select(NOTES.c.company_id, NOTES.c.body).order_by(NOTES.c.id)).all()
    assert bodies[-1] == (a.id, "added") and len(bodies) == 3


def test_a_session_bound_to_no_company_is_held_to_the_same_rule(two_companies, session_of):
    session = session_of(None)
    with pytest.raises(CoreTenantError):
        session.execute(update(LEADS).where(LEADS.c.id == bindparam("lead_id")).values(name="x"), [{"lead_id": 1}])


def test_the_opt_out_crosses_tenants_on_purpose(two_companies, session_of, backend):
    a, b = two_companies
    session = session_of(a)
    with unscoped(session):
        assert session.execute(select(func.count()).select_from(LEADS)).scalar() == 2
        session.execute(update(LEADS).values(name="Everyone's"))
    # Per statement, with the execution option.
    notes = session.execute(select(NOTES.c.body).execution_options(tenant_bypass=True)).scalars().all()
    assert sorted(notes) == ["note of Alpha", "note of Beta"]
    session.commit()
    assert lead_names(backend) == {a.id: "Everyone's", b.id: "Everyone's"}
    # And the session is strict again afterwards.
    with pytest.raises(CoreTenantError):
        session.execute(select(LEADS.c.name))


def test_raw_sql_is_not_read(two_companies, session_of):
    # text() cannot be checked; the README says to use Core or the ORM for tenant-owned tables.
    assert session_of(two_companies[0]).execute(text("SELECT count(*) FROM leads")).scalar() == 2
