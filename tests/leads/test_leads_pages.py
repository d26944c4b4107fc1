"""The board, the list, a lead's page, creating, editing, notes, merging, bulk actions,
CSV export: what a salesperson sees and does in the browser (without JavaScript)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.leads import services
from orbitflow.leads.models import Lead, LeadActivity, LeadNote
from orbitflow.leads.queries import BOARD_PAGE
from support import csrf_token


@pytest.fixture
def signed_in(testapp, login_as, owner):
    login_as(owner)
    return testapp


def _column_html(page_text: str, stage_id: int) -> str:
    start = page_text.index(f'<section class="kcol" id="stage-{stage_id}"')
    return page_text[start : page_text.index("</section>", start)]


def test_board_shows_columns_counts_totals_and_cards(signed_in, make_lead, stages, owner):
    make_lead("Ada", value=1000, company_name="Engines Ltd", tags=["vip"], owner_id=owner.id)
    make_lead("Bob", value=250.5)
    make_lead("Cyd", stage=stages[4])
    page = signed_in.get("/pipeline")
    assert [m for m in re.findall(r'data-stage-name="([^"]+)"', page.text)] == [s.name for s in stages]
    new = _column_html(page.text, stages[0].id)
    assert 'data-count="2"' in new and "$1,250.50" in new
    assert new.index("Ada") < new.index("Bob")
    assert "Engines Ltd" in new and "vip" in new and "Olivia Owner" in new
    won = _column_html(page.text, stages[4].id)
    assert 'data-count="1"' in won and "badge-ok" in won
    assert "Sortable.min.js" in page.text and "board.js" in page.text
    assert 'nonce="' in page.text and "<script>" not in page.text


def test_board_filters_apply_to_cards_and_counts(signed_in, make_lead, stages, owner):
    make_lead("Quiz Lead", source="quiz", tags=["hot"], value=10)
    make_lead("Manual Lead", source="manual", owner_id=owner.id, value=20)
    for query, present, absent in (
        ("source=quiz", "Quiz Lead", "Manual Lead"),
        ("tag=hot", "Quiz Lead", "Manual Lead"),
        ("owner=me", "Manual Lead", "Quiz Lead"),
        ("owner=none", "Quiz Lead", "Manual Lead"),
        ("q=manual", "Manual Lead", "Quiz Lead"),
    ):
        page = signed_in.get(f"/pipeline?{query}").text
        column = _column_html(page, stages[0].id)
        assert present in column and absent not in column, query
        assert 'data-count="1"' in column, query


def test_columns_load_more_cards_on_demand(signed_in, make_lead, stages):
    for index in range(BOARD_PAGE + 5):
        make_lead(f"Card {index:02d}", stage=stages[1])
    page = signed_in.get("/pipeline").text
    column = _column_html(page, stages[1].id)
    assert column.count('class="kcard"') == BOARD_PAGE
    assert f'data-count="{BOARD_PAGE + 5}"' in column
    more_url = re.search(r'data-more-url="([^"]+)"', column).group(1).replace("&amp;", "&")
    last = re.findall(r'data-position="(-?\d+)"', column)[-1], re.findall(r'data-id="(\d+)"', column)[-1]
    more = signed_in.get(more_url, {"after": f"{last[0]}:{last[1]}"})
    assert more.headers["X-Has-More"] == "0"
    names = re.findall(r'data-name="([^"]+)"', more.text)
    assert names == [f"Card {index:02d}" for index in range(BOARD_PAGE, BOARD_PAGE + 5)]
    first = signed_in.get(more_url)
    assert first.headers["X-Has-More"] == "1" and first.text.count('class="kcard"') == BOARD_PAGE


def test_create_lead_by_hand(signed_in, db, stages, owner):
    form = signed_in.get("/leads/new")
    assert 'name="csrf_token"' in form.text
    token = csrf_token(signed_in)
    bad = signed_in.post(
        "/leads/new",
        {
            "csrf_token": token,
            "name": "Ada",
            "email": "not-an-email",
            "phone": "12",
            "value": "lots",
            "stage_id": stages[1].id,
            "owner_id": owner.id,
            "source": "manual",
            "tags": "a, b",
        },
        status=400,
    )
    assert "Enter an e-mail address like name@example.com" in bad.text and 'value="not-an-email"' in bad.text
    assert "has-error" in bad.text and 'value="a, b"' in bad.text
    assert db.scalars(select(Lead)).all() == []
    done = signed_in.post(
        "/leads/new",
        {
            "csrf_token": token,
            "name": "Ada",
            "email": "Ada@Example.com",
            "phone": "+44 20 7946 0958",
            "value": "1500",
            "stage_id": stages[1].id,
            "owner_id": owner.id,
            "source": "manual",
            "tags": "a, b",
            "consent": "yes",
            "utm_source": "facebook",
            "utm_campaign": "spring",
            "referrer": "https://fb.com",
        },
        status=303,
    )
    lead = db.scalars(select(Lead)).one()
    assert done.location.endswith(f"/leads/{lead.id}")
    assert (lead.utm_source, lead.utm_campaign, lead.referrer) == ("facebook", "spring", "https://fb.com")
    assert (lead.email, lead.phone, lead.stage_id, lead.owner_id, lead.tags, lead.consent) == (
        "ada@example.com",
        "+442079460958",
        stages[1].id,
        owner.id,
        ["a", "b"],
        True,
    )
    page = done.follow()
    assert "Lead Ada created." in page.text and "Created (source: manual)" in page.text


def test_forms_without_csrf_token_are_refused(signed_in, make_lead, db):
    lead = make_lead("Safe")
    signed_in.post("/leads/new", {"name": "Forged"}, status=400)
    signed_in.post(f"/leads/{lead.id}", {"name": "Forged", "version": 1}, status=400)
    signed_in.post(f"/leads/{lead.id}/delete", {}, status=400)
    signed_in.post("/leads/bulk", {"action": "delete", "ids": [lead.id], "confirm": "yes"}, status=400)
    db.expire_all()
    assert [row.name for row in db.scalars(select(Lead))] == ["Safe"]


def test_edit_lead_with_version_and_stale_form(signed_in, another_client, login_as, owner, make_lead, db, stages):
    lead = make_lead("Old Name", email="old@x.io")
    token = csrf_token(signed_in)
    page = signed_in.get(f"/leads/{lead.id}")
    assert 'name="version" value="1"' in page.text
    fields = {
        "csrf_token": token,
        "version": "1",
        "name": "New Name",
        "email": "new@x.io",
        "phone": "",
        "company_name": "Acme",
        "value": "99.5",
        "source": "manual",
        "stage_id": str(stages[2].id),
        "owner_id": "",
        "tags": "x",
    }
    saved = signed_in.post(f"/leads/{lead.id}", fields, status=303).follow()
    assert "Lead saved." in saved.text
    assert "Moved from New to Qualified" in saved.text and "Edited" in saved.text
    db.expire_all()
    stored = db.get(Lead, lead.id)
    assert (stored.name, stored.email, str(stored.value), stored.stage_id, stored.version) == (
        "New Name",
        "new@x.io",
        "99.50",
        stages[2].id,
        2,
    )
    stale = signed_in.post(f"/leads/{lead.id}", {**fields, "name": "Stale Write"}, status=409)
    assert "Someone else saved this lead" in stale.text and 'value="Stale Write"' in stale.text
    assert 'name="version" value="2"' in stale.text
    db.expire_all()
    assert db.get(Lead, lead.id).name == "New Name"
    edits = db.scalars(select(AuditEntry).where(AuditEntry.action == "lead.update")).all()
    assert len(edits) == 1 and edits[0].changes["name"] == {"from": "Old Name", "to": "New Name"}


def test_notes_and_timeline_with_quiz_answers(signed_in, make_lead, db, company):
    lead = make_lead("Quiz Taker", source="quiz")
    db.add(
        LeadActivity(
            company_id=company.id,
            lead_id=lead.id,
            kind="quiz",
            data={
                "quiz": "Find your plan",
                "answers": [
                    {"question": "Team size?", "answer": "11-50"},
                    {"question": "Budget", "answer": ["<1k", "1k-5k"]},
                ],
                "score": 42,
            },
        )
    )
    db.add(LeadActivity(company_id=company.id, lead_id=lead.id, kind="pixel_sent", data={"pixel": "facebook"}))
    db.commit()
    token = csrf_token(signed_in)
    empty = signed_in.post(f"/leads/{lead.id}/notes", {"csrf_token": token, "body": "  "}, status=400)
    assert "Write the note first." in empty.text
    signed_in.post(f"/leads/{lead.id}/notes", {"csrf_token": token, "body": "Call <b>back</b> Friday"}, status=303)
    page = signed_in.get(f"/leads/{lead.id}").text
    assert "Call &lt;b&gt;back&lt;/b&gt; Friday" in page
    assert "Answered Find your plan" in page and "Team size?" in page and "11-50" in page and "&lt;1k, 1k-5k" in page
    assert "score" in page and "42" in page
    assert "Pixel sent" in page and "facebook" in page
    assert db.scalars(select(LeadNote.body)).all() == ["Call <b>back</b> Friday"]


def test_delete_asks_then_deletes(signed_in, make_lead, db):
    lead_id = make_lead("Gone Soon").id
    confirm = signed_in.get(f"/leads/{lead_id}/delete")
    assert "cannot be undone" in confirm.text
    signed_in.post(f"/leads/{lead_id}/delete", {"csrf_token": csrf_token(signed_in)}, status=303)
    db.expire_all()
    assert db.get(Lead, lead_id) is None
    assert db.scalars(select(AuditEntry.action).where(AuditEntry.action == "lead.delete")).all() == ["lead.delete"]


def test_duplicates_are_flagged_and_merged(signed_in, make_lead, db, owner):
    keep = make_lead("Ada (web)", email="ada@x.io", tags=["web"])
    dup = make_lead(
        "Ada (import)", email="ada@x.io", phone="+14155550100", company_name="Engines", tags=["csv"], owner_id=owner.id
    )
    db.add(LeadNote(company_id=dup.company_id, lead_id=dup.id, body="from the duplicate"))
    db.commit()
    listing = signed_in.get("/leads").text
    assert listing.count(">duplicate</span>") == 2
    page = signed_in.get(f"/leads/{keep.id}").text
    assert "Possible duplicate" in page and "Ada (import)" in page
    signed_in.post(f"/leads/{keep.id}/merge", {"csrf_token": csrf_token(signed_in), "other_id": dup.id}, status=303)
    dup_id = dup.id
    db.expire_all()
    merged = db.get(Lead, keep.id)
    assert db.get(Lead, dup_id) is None
    assert (merged.phone, merged.company_name, merged.owner_id, merged.tags) == (
        "+14155550100",
        "Engines",
        owner.id,
        ["csv", "web"],
    )
    assert db.scalars(select(LeadNote.lead_id)).all() == [keep.id]
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.action.like("lead.%"))).all()
    assert sorted(actions) == ["lead.delete", "lead.merge"]
    assert "Merged lead #" in signed_in.get(f"/leads/{keep.id}").text


def test_list_search_sort_and_paging(signed_in, make_lead):
    for index in range(30):
        make_lead(f"Person {index:02d}", email=f"p{index}@x.io", value=index, company_name="Big" if index % 2 else "")
    page = signed_in.get("/leads", {"sort": "name", "per_page": 25})
    names = re.findall(r">(Person \d\d)</a>", page.text)
    assert names == [f"Person {index:02d}" for index in range(25)]
    assert "Page 1 of 2" in page.text
    second = signed_in.get("/leads", {"sort": "name", "per_page": 25, "page": 2})
    assert re.findall(r">(Person \d\d)</a>", second.text) == [f"Person {index:02d}" for index in range(25, 30)]
    by_value = signed_in.get("/leads", {"sort": "-value"})
    assert re.findall(r">(Person \d\d)</a>", by_value.text)[0] == "Person 29"
    found = signed_in.get("/leads", {"q": "p7@"})
    assert re.findall(r">(Person \d\d)</a>", found.text) == ["Person 07"]
    big = signed_in.get("/leads", {"q": "big"})
    assert "15 leads" in big.text
    assert "No leads match" in signed_in.get("/leads", {"q": "nobody"}).text
    assert signed_in.get("/leads", {"page": "999"}).status_int == 200
    assert signed_in.get("/leads", {"sort": "drop table"}).status_int == 200


def test_bulk_actions_ask_for_confirmation(signed_in, make_lead, stages, owner, make_user, company, db):
    agent = make_user(company, "AGENT", name="Alex Agent")
    ids = [make_lead(f"Bulk {index}").id for index in range(3)]
    token = csrf_token(signed_in)
    back = "/leads?q=bulk"
    confirm = signed_in.post(
        "/leads/bulk", {"csrf_token": token, "action": "move", "stage_id": stages[3].id, "ids": ids, "back": back}
    )
    assert "Move 3 leads to Proposal?" in confirm.text
    db.expire_all()
    assert {lead.stage_id for lead in db.scalars(select(Lead))} == {stages[0].id}
    done = signed_in.post(
        "/leads/bulk",
        {"csrf_token": token, "action": "move", "stage_id": stages[3].id, "ids": ids, "back": back, "confirm": "yes"},
        status=303,
    )
    assert done.location.endswith(back)
    signed_in.post(
        "/leads/bulk",
        {"csrf_token": token, "action": "assign", "owner_id": agent.id, "ids": ids[:2], "confirm": "yes"},
        status=303,
    )
    signed_in.post(
        "/leads/bulk", {"csrf_token": token, "action": "tag", "tag": "Hot", "ids": ids, "confirm": "yes"}, status=303
    )
    signed_in.post(
        "/leads/bulk",
        {"csrf_token": token, "action": "untag", "tag": "hot", "ids": ids[:1], "confirm": "yes"},
        status=303,
    )
    db.expire_all()
    leads = {lead.id: lead for lead in db.scalars(select(Lead))}
    assert {leads[i].stage_id for i in ids} == {stages[3].id}
    assert [leads[i].owner_id for i in ids] == [agent.id, agent.id, None]
    assert [leads[i].tags for i in ids] == [[], ["hot"], ["hot"]]
    delete_confirm = signed_in.post("/leads/bulk", {"csrf_token": token, "action": "delete", "ids": ids})
    assert "Delete 3 leads?" in delete_confirm.text and "cannot be undone" in delete_confirm.text
    signed_in.post("/leads/bulk", {"csrf_token": token, "action": "delete", "ids": ids, "confirm": "yes"}, status=303)
    db.expire_all()
    assert db.scalars(select(Lead)).all() == []
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.action.like("lead.%"))).all()
    assert actions.count("lead.move") == 3 and actions.count("lead.delete") == 3
    nothing = signed_in.post("/leads/bulk", {"csrf_token": token, "action": "delete", "ids": []}, status=303)
    assert "Select at least one lead." in nothing.follow().text


def test_export_csv_follows_filters_and_guards_formulas(signed_in, make_lead, db, stages, owner):
    make_lead('=HYPERLINK("http://evil")', email="a@x.io", source="quiz", tags=["vip"], value=10, owner_id=owner.id)
    make_lead("@SUM(1)", company_name="+cmd", source="manual")
    make_lead("Plain", stage=stages[2], source="quiz")
    response = signed_in.get("/leads/export.csv", {"source": "quiz", "sort": "name"})
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert [row["name"] for row in rows] == ['\'=HYPERLINK("http://evil")', "Plain"]
    assert rows[0]["stage"] == "New" and rows[0]["owner"] == owner.username and rows[0]["tags"] == "vip"
    assert rows[0]["value"] == "10.00" and rows[0]["currency"] == "USD"
    everything = list(csv.DictReader(io.StringIO(signed_in.get("/leads/export.csv").body.decode("utf-8-sig"))))
    guarded = next(row for row in everything if row["name"] == "'@SUM(1)")
    assert guarded["company_name"] == "'+cmd"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "lead.export")).first()
    assert entry.changes["rows"] == 2


def test_quiz_style_lead_shows_on_board_and_page(signed_in, backend, company, db):
    from orbitflow.db import bind_company, make_session_factory

    session = make_session_factory(backend.engine)()
    bind_company(session, company.id)
    lead = services.create_lead(
        session, company_id=company.id, actor_id=None, name="From Quiz", source="quiz", utm={"campaign": "spring"}
    )
    services.add_activity(session, lead, "quiz", {"quiz": "Plans", "answers": [{"question": "Q1", "answer": "A1"}]})
    session.commit()
    session.close()
    assert "From Quiz" in signed_in.get("/pipeline").text
    page = signed_in.get(f"/leads/{lead.id}").text
    assert "Answered Plans" in page and "Q1" in page and "A1" in page and 'value="spring"' in page


def test_an_agent_cannot_merge_because_merging_deletes(testapp, login_as, make_user, company, make_lead, db):
    agent = make_user(company, "AGENT", username="alex")
    keep = make_lead("Ada (web)", email="ada@x.io", owner_id=agent.id)
    dup = make_lead("Ada (import)", email="ada@x.io", owner_id=agent.id)
    login_as(agent)
    testapp.post(f"/leads/{keep.id}/merge", {"csrf_token": csrf_token(testapp), "other_id": dup.id}, status=403)
    db.expire_all()
    assert db.get(Lead, dup.id) is not None
    assert db.scalars(select(AuditEntry.action).where(AuditEntry.action == "lead.merge")).all() == []


def test_lead_form_fields_carry_their_limits_as_attributes(signed_in, make_lead):
    """Length limits and autocomplete-off reach the browser as attributes, not as text."""
    for page in (signed_in.get("/leads/new"), signed_in.get(f"/leads/{make_lead(name='Limits').id}")):
        name = re.search(r'<input id="f-name"[^>]*>', page.text).group(0)
        assert 'maxlength="200"' in name and 'required="required"' in name and 'autocomplete="off"' in name
        assert 'maxlength="254"' in re.search(r'<input id="f-email"[^>]*>', page.text).group(0)
        assert "&#34;" not in page.text


def test_a_note_is_stored_and_audited_and_an_empty_one_is_refused(signed_in, make_lead, owner, db, unchanged):
    lead = make_lead("Noted")
    token = csrf_token(signed_in)
    with unchanged():
        refused = signed_in.post(f"/leads/{lead.id}/notes", {"csrf_token": token, "body": "   "}, status=400)
    assert "Write the note first." in refused.text
    page = signed_in.post(f"/leads/{lead.id}/notes", {"csrf_token": token, "body": "Called, wants a demo"}, status=303)
    assert "Called, wants a demo" in page.follow().text
    db.expire_all()
    note = db.scalars(select(LeadNote).where(LeadNote.lead_id == lead.id)).one()
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "lead.note")).one()
    assert (entry.company_id, entry.actor_id, entry.target_type, entry.target_id) == (
        lead.company_id,
        owner.id,
        "lead",
        str(lead.id),
    )
    assert entry.changes == {"note_id": note.id}
