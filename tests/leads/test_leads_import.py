"""CSV import: upload, column mapping, preview, row-by-row report, duplicate handling,
and files refused as a whole (nothing changed)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from orbitflow.audit.models import AuditEntry
from orbitflow.leads import csvio
from orbitflow.leads.models import Lead, LeadImport
from support import csrf_token

GOOD_AND_BAD = (
    "Full Name,E-mail,Phone,Company,Amount,Stage,Owner,Tags\n"
    'Ada Lovelace,ADA@example.com,+44 20 7946 0958,Engines,1200,Qualified,olivia,"vip, uk"\n'
    "No Email,,,,,,,\n"
    ",nameless@example.com,,,,,,\n"
    "Bad Mail,bad@,,,,,,\n"
    '"Multi\nLine",multi@example.com,,,"1,5",,,\n'
    "Bad Stage,stage@example.com,,,,Nowhere,,\n"
    "Bad Phone,phone@example.com,123,,,,,\n"
    "Bad Owner,owner@example.com,,,,,ghost,\n"
    "Bad Value,value@example.com,,,ten,,,\n"
)


@pytest.fixture
def importer(testapp, login_as, owner):
    login_as(owner)

    def upload(content: bytes | str, filename: str = "leads.csv", status: int = 303):
        raw = content.encode("utf-8") if isinstance(content, str) else content
        return testapp.post(
            "/leads/import",
            {"csrf_token": csrf_token(testapp)},
            upload_files=[("file", filename, raw)],
            status=status,
        )

    return upload


def _run(testapp, location: str, **fields):
    page = testapp.get(location)
    form = {"csrf_token": csrf_token(testapp), "go": "import", "duplicates": "skip"}
    # Keep the guessed mapping, as a person who just presses Import would.
    for key, options in re.findall(r'name="map_(\w+)">(.*?)</select>', page.text, re.S):
        chosen = re.search(r'<option value="(\d+)" selected', options)
        if chosen:
            form[f"map_{key}"] = chosen.group(1)
    form.update(fields)
    return testapp.post(location, form, status=303).follow()


def test_good_rows_are_imported_and_each_bad_row_reported(importer, testapp, db, stages, owner):
    upload = importer(GOOD_AND_BAD)
    preview = upload.follow()
    assert "9 rows" in preview.text
    assert re.search(r'name="map_name">.*?<option value="0" selected>Full Name', preview.text, re.S)
    assert re.search(r'name="map_email">.*?<option value="1" selected>E-mail', preview.text, re.S)
    assert "Enter an e-mail address like name@example.com" in preview.text and "row-error" in preview.text
    assert db.scalar(select(func.count()).select_from(Lead)) == 0
    report = _run(testapp, upload.location, stage_id=str(stages[1].id))
    assert "Imported 3 new lead(s)" in report.text
    leads = {lead.name: lead for lead in db.scalars(select(Lead))}
    assert set(leads) == {"Ada Lovelace", "Multi\nLine", "No Email"}
    ada = leads["Ada Lovelace"]
    assert (
        ada.email,
        ada.phone,
        ada.company_name,
        str(ada.value),
        ada.stage_id,
        ada.owner_id,
        ada.tags,
        ada.source,
    ) == ("ada@example.com", "+442079460958", "Engines", "1200.00", stages[2].id, owner.id, ["uk", "vip"], "import")
    assert leads["No Email"].stage_id == stages[1].id
    assert str(leads["Multi\nLine"].value) == "15.00"
    errors = {
        int(line): message for line, message in re.findall(r'<td class="num">(\d+)</td><td>([^<]+)</td>', report.text)
    }
    assert sorted(errors) == [4, 5, 8, 9, 10, 11]
    assert "Full Name" in errors[4] and "required" in errors[4]
    assert "E-mail" in errors[5]
    assert "Nowhere" in errors[8]
    assert "Phone" in errors[9]
    assert "ghost" in errors[10]
    assert "Amount" in errors[11]
    record = db.scalars(select(LeadImport)).one()
    assert record.status == "done" and record.report["created"] == 3 and record.content == ""
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "lead.import")).one()
    assert audit.changes["created"] == 3 and audit.changes["errors"] == 6
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "lead.create")) == 3
    # The report stays; importing again does nothing more.
    testapp.post(upload.location, {"csrf_token": csrf_token(testapp), "go": "import"}, status=303)
    assert db.scalar(select(func.count()).select_from(Lead)) == 3


@pytest.mark.parametrize(
    ("mode", "expected_names", "expected_phone"),
    [
        ("skip", ["Existing"], None),
        ("update", ["Newcomer"], "+14155550100"),
        ("create", ["Existing", "Newcomer"], None),
    ],
)
def test_duplicate_handling(mode, expected_names, expected_phone, importer, testapp, db, make_lead):
    make_lead("Existing", email="dup@example.com", tags=["old"])
    upload = importer("name,email,phone,tags\nNewcomer,DUP@example.com,+1 415 555 0100,new\n")
    report = _run(testapp, upload.location, duplicates=mode)
    db.expire_all()
    leads = db.scalars(select(Lead).order_by(Lead.id)).all()
    assert [lead.name for lead in leads] == expected_names
    assert leads[0].phone == expected_phone
    if mode == "update":
        assert leads[0].tags == ["new", "old"]
        assert "updated 1" in report.text
    if mode == "skip":
        assert "dup@example.com is already a lead." in report.text


def test_semicolons_and_windows_encoding(importer, testapp, db):
    upload = importer("Name;Email\r\nJosé Núñez;jose@example.com\r\n".encode("cp1252"))
    _run(testapp, upload.location)
    assert db.scalars(select(Lead.name)).all() == ["José Núñez"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV text file"),
        (b"name,email\n", "no leads"),
        (b'name,email\n"Ada,ada@x.io\nBob,bob@x.io\n', "not valid CSV"),
        (b'name,email\n"Ada" x,ada@x.io\n', "not valid CSV"),
    ],
)
def test_malformed_files_are_refused_and_nothing_changes(content, message, importer, db):
    refused = importer(content, status=400)
    assert message in refused.text and "Nothing was imported." in refused.text
    assert db.scalars(select(LeadImport)).all() == []
    assert db.scalars(select(Lead)).all() == []


def test_oversized_file_is_refused_and_nothing_changes(importer, db):
    row = "Someone,someone@example.com," + "x" * 200 + "\n"
    content = "name,email,notes\n" + row * (csvio.DEFAULT_MAX_BYTES // len(row) + 10)
    refused = importer(content, status=413)
    assert "the limit is 2.0 MB" in refused.text
    assert db.scalars(select(LeadImport)).all() == []
    assert db.scalars(select(Lead)).all() == []


def test_import_needs_a_name_column_and_the_permission(importer, testapp, login_as, make_user, company, db):
    upload = importer("email\nx@example.com\n")
    page = testapp.post(
        upload.location, {"csrf_token": csrf_token(testapp), "go": "import", "duplicates": "skip"}, status=400
    )
    assert "Choose the column that holds the leads" in page.text
    assert db.scalars(select(Lead)).all() == []
    agent = make_user(company, "AGENT")
    login_as(agent)
    testapp.get("/leads/import", status=403)
    testapp.get(upload.location, status=403)


def test_another_company_cannot_open_an_import(
    importer, testapp, login_as, make_company, make_user, db, unchanged, another_client, owner
):
    upload = importer("name\nAda\n")
    stranger_company = make_company(name="Stranger")
    stranger = make_user(stranger_company, "OWNER")
    browser = login_as(stranger, another_client())
    with unchanged():
        browser.get(upload.location, status=404)
        browser.post(upload.location, {"csrf_token": csrf_token(browser), "go": "import", "map_name": "0"}, status=404)
        browser.post(upload.location, {"csrf_token": csrf_token(browser), "map_name": "0"}, status=404)
    record = db.scalars(select(LeadImport)).one()
    assert (record.status, record.content) == ("pending", "name\nAda\n")
    assert db.scalar(select(func.count()).select_from(Lead)) == 0
    # The owner's import is still there for them to run.
    assert "Imported 1 new lead(s)" in _run(testapp, upload.location).text


def test_parse_reports_line_numbers_of_multiline_records():
    parsed = csvio.parse(b'name,notes\nA,"one\ntwo"\n\nB,x\n')
    assert [line for line, _ in parsed.rows] == [2, 5]
    assert csvio.safe_cell("=1+1") == "'=1+1" and csvio.safe_cell("-5") == "'-5" and csvio.safe_cell("ok") == "ok"
