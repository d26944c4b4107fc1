"""/api/v1/pixels: the contract's fields, write-only encrypted tokens, validation that
changes nothing, audit rows without token values, roles, CSRF and tenant isolation."""

from __future__ import annotations

import json

import pytest
from pixelkit import META_PIXEL, META_TOKEN, TIKTOK_CODE, TIKTOK_TOKEN, configure
from sqlalchemy import select

from orbitflow.audit.models import AuditEntry
from orbitflow.crypto import Encryptor
from orbitflow.deliveries import Delivery
from orbitflow.shared import shared
from orbitflow_plugins.pixels.models import PixelQuizOff, PixelSettings
from quiz.quizkit import make_quiz
from support import csrf_token

CONTRACT = {
    "facebook_pixel_id",
    "facebook_access_token_set",
    "tiktok_pixel_code",
    "tiktok_access_token_set",
    "test_event_code",
    "require_consent",
}


def stored(db, company) -> PixelSettings | None:
    db.expire_all()
    return db.scalars(select(PixelSettings).where(PixelSettings.company_id == company.id)).first()


def test_a_company_without_settings_sees_the_defaults(api):
    body = api.get("/api/v1/pixels").json
    assert set(body) >= CONTRACT
    assert body["facebook_pixel_id"] is None and body["facebook_access_token_set"] is False
    assert body["require_consent"] is True
    # FACEBOOK_PIXEL_ID of the installation applies until the company sets its own.
    assert body["default_facebook_pixel_id"] == "999999999999999"
    assert body["meta_won_event"] == "Purchase" and body["tiktok_won_event"] == "CompletePayment"


def test_put_stores_the_tokens_encrypted_and_never_returns_them(api, db, company, pixels_app):
    answer = api.put(
        "/api/v1/pixels",
        {
            "facebook_pixel_id": META_PIXEL,
            "facebook_access_token": META_TOKEN,
            "tiktok_pixel_code": TIKTOK_CODE,
            "tiktok_access_token": TIKTOK_TOKEN,
            "test_event_code": "TEST12345",
            "require_consent": False,
        },
    )
    body = answer.json
    assert body["facebook_pixel_id"] == META_PIXEL and body["tiktok_pixel_code"] == TIKTOK_CODE
    assert body["facebook_access_token_set"] is True and body["tiktok_access_token_set"] is True
    assert body["test_event_code"] == "TEST12345" and body["require_consent"] is False
    assert META_TOKEN not in answer.text and TIKTOK_TOKEN not in answer.text
    assert META_TOKEN not in api.get("/api/v1/pixels").text
    row = stored(db, company)
    assert row.facebook_access_token != META_TOKEN and META_TOKEN not in row.facebook_access_token
    assert shared(pixels_app.registry, Encryptor).decrypt(row.facebook_access_token) == META_TOKEN
    assert shared(pixels_app.registry, Encryptor).decrypt(row.tiktok_access_token) == TIKTOK_TOKEN
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "pixels.update")).all()
    assert entry.company_id == company.id and entry.actor_name == "olga"
    assert entry.changes["facebook_access_token"] == {"from": None, "to": "set"}
    assert entry.changes["facebook_pixel_id"] == {"from": None, "to": META_PIXEL}
    text = json.dumps(entry.changes)
    assert META_TOKEN not in text and TIKTOK_TOKEN not in text


def test_a_token_is_kept_when_left_out_and_removed_with_null(api, db, company):
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL, "facebook_access_token": META_TOKEN})
    api.put("/api/v1/pixels", {"test_event_code": "T1"})
    assert stored(db, company).facebook_access_token is not None
    body = api.put("/api/v1/pixels", {"facebook_access_token": None}).json
    assert body["facebook_access_token_set"] is False
    assert stored(db, company).facebook_access_token is None
    removal = db.scalars(select(AuditEntry).where(AuditEntry.action == "pixels.update").order_by(AuditEntry.id)).all()
    assert removal[-1].changes == {"facebook_access_token": {"from": "set", "to": "removed"}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"facebook_pixel_id": "12345"}, "facebook_pixel_id"),
        ({"facebook_pixel_id": "12345678901234a"}, "facebook_pixel_id"),
        ({"tiktok_pixel_code": "c4abcdefghij12345678"}, "tiktok_pixel_code"),
        ({"facebook_access_token": "x" * 513}, "facebook_access_token"),
        ({"tiktok_access_token": "has spaces in it"}, "tiktok_access_token"),
        ({"require_consent": "yes"}, "require_consent"),
        ({"test_event_code": "bad code!"}, "test_event_code"),
        ({"meta_won_event": ""}, "meta_won_event"),
        ({"disabled_quiz_ids": ["1"]}, "disabled_quiz_ids"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_refused_by_field_and_changes_nothing(api, db, company, body, field, unchanged):
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL, "facebook_access_token": META_TOKEN})
    before = stored(db, company)
    token_before = before.facebook_access_token
    with unchanged():
        answer = api.put("/api/v1/pixels", {"test_event_code": "WOULD-CHANGE", **body}, status=422)
    # The field, or one of its items ("disabled_quiz_ids.0").
    assert field in {name.split(".")[0] for name in answer.json["error"]["fields"]}
    after = stored(db, company)
    assert after.facebook_pixel_id == META_PIXEL and after.facebook_access_token == token_before
    assert after.test_event_code is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"facebook_access_token": META_TOKEN}, "facebook_pixel_id"),
        ({"facebook_pixel_id": None, "facebook_access_token": META_TOKEN}, "facebook_pixel_id"),
        ({"tiktok_access_token": TIKTOK_TOKEN}, "tiktok_pixel_code"),
    ],
)
def test_a_token_needs_the_companys_own_pixel(api, db, company, body, field, unchanged):
    # The installation's FACEBOOK_PIXEL_ID is set, but a company's token goes only with
    # the company's own pixel.
    with unchanged():
        answer = api.put("/api/v1/pixels", body, status=422)
    assert set(answer.json["error"]["fields"]) == {field}
    assert "this access token belongs to" in answer.json["error"]["fields"][field]
    assert stored(db, company) is None


def test_the_pixel_id_cannot_be_cleared_while_its_token_is_kept(api, db, company, unchanged):
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL, "facebook_access_token": META_TOKEN})
    with unchanged():
        answer = api.put("/api/v1/pixels", {"facebook_pixel_id": None}, status=422)
    assert set(answer.json["error"]["fields"]) == {"facebook_pixel_id"}
    assert stored(db, company).facebook_pixel_id == META_PIXEL
    # Both at once is fine.
    body = api.put("/api/v1/pixels", {"facebook_pixel_id": None, "facebook_access_token": None}).json
    assert body["facebook_pixel_id"] is None and body["facebook_access_token_set"] is False


def test_not_json_is_a_400(api, unchanged):
    with unchanged():
        answer = api.client.put(
            "/api/v1/pixels", "nope", headers={**api._headers(), "Content-Type": "application/json"}, status=400
        )
    assert answer.json["error"]["code"] == "bad_request"


def test_quizzes_are_switched_off_per_quiz_and_only_the_companys_own(api, db, company, make_company):
    quiz = make_quiz(db, company)
    other = make_company(name="Other")
    foreign = make_quiz(db, other)
    assert api.put("/api/v1/pixels", {"disabled_quiz_ids": [quiz.id]}).json["disabled_quiz_ids"] == [quiz.id]
    refused = api.put("/api/v1/pixels", {"disabled_quiz_ids": [foreign.id]}, status=422)
    error = refused.json["error"]
    assert (error["code"], error["message"]) == ("invalid", "Check the highlighted fields.")
    assert "disabled_quiz_ids" in error["fields"]
    db.expire_all()
    assert db.scalars(select(PixelQuizOff.quiz_id)).all() == [quiz.id]
    assert api.put("/api/v1/pixels", {"disabled_quiz_ids": []}).json["disabled_quiz_ids"] == []


@pytest.mark.parametrize("role", ["MANAGER", "AGENT", "VIEWER"])
def test_only_owners_and_admins_may_read_or_change(client_for, make_user, company, db, role, unchanged):
    client = client_for(make_user(company, role, username=f"u-{role.lower()}"))
    client.get("/api/v1/pixels", status=403)
    with unchanged():
        client.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL}, status=403)
        client.post("/api/v1/pixels/test", status=403)
    client.get("/api/v1/pixels/deliveries", status=403)
    client.client.get("/settings/pixels", status=403)


def test_admins_may(client_for, make_user, company):
    admin = client_for(make_user(company, "ADMIN", username="adam"))
    assert admin.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL}).json["facebook_pixel_id"] == META_PIXEL


def test_a_put_without_the_csrf_token_is_refused(api, unchanged):
    with unchanged():
        answer = api.client.put_json(
            "/api/v1/pixels", {"facebook_pixel_id": META_PIXEL}, headers={"Accept": "application/json"}, status=400
        )
    assert answer.json["error"]["code"] == "csrf_failed"


def test_each_company_sees_and_changes_only_its_own(api, client_for, make_company, make_user, db, company):
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL, "facebook_access_token": META_TOKEN})
    other = make_company(name="Rival")
    rival = client_for(make_user(other, "OWNER", username="rita"))
    body = rival.get("/api/v1/pixels").json
    assert body["facebook_pixel_id"] is None and body["facebook_access_token_set"] is False
    rival.put("/api/v1/pixels", {"facebook_pixel_id": "222222222222222"})
    assert api.get("/api/v1/pixels").json["facebook_pixel_id"] == META_PIXEL
    assert stored(db, other).facebook_pixel_id == "222222222222222"
    assert stored(db, other).facebook_access_token is None


def test_the_openapi_document_lists_the_pixel_operations(api):
    document = api.get("/api/v1/openapi.json").json
    paths = document["paths"]
    assert {"get", "put"} <= set(paths["/api/v1/pixels"])
    assert "post" in paths["/api/v1/pixels/test"] and "get" in paths["/api/v1/pixels/deliveries"]
    # The input lists every name a PUT accepts: the settings, the write-only tokens, and
    # the read-only fields of a GET (accepted back and ignored); nothing else.
    schemas = document["components"]["schemas"]
    given = schemas["PixelSettingsInput"]["properties"]
    answered = set(api.get("/api/v1/pixels").json)
    assert set(given) == answered | {"facebook_access_token", "tiktok_access_token"}
    assert schemas["PixelSettingsInput"]["additionalProperties"] is False
    read_only = {name for name, schema in given.items() if schema.get("readOnly")}
    assert read_only == {
        "facebook_access_token_set",
        "facebook_access_token_unreadable",
        "tiktok_access_token_set",
        "tiktok_access_token_unreadable",
        "default_facebook_pixel_id",
        "default_tiktok_pixel_code",
    }
    assert set(schemas["PixelSettings"]["properties"]) == answered


def test_what_get_answers_can_be_edited_and_put_back(api, db, company):
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL, "facebook_access_token": META_TOKEN})
    token_before = stored(db, company).facebook_access_token
    body = api.get("/api/v1/pixels").json
    body["test_event_code"] = "EDITED1"
    # Read-only values sent back are ignored, whatever they say.
    body["facebook_access_token_set"] = False
    body["default_facebook_pixel_id"] = "111111111111111"
    answer = api.put("/api/v1/pixels", body).json
    assert answer["test_event_code"] == "EDITED1"
    assert answer["facebook_access_token_set"] is True
    assert answer["default_facebook_pixel_id"] == "999999999999999"
    row = stored(db, company)
    assert row.facebook_access_token == token_before and row.facebook_pixel_id == META_PIXEL
    [*_, entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "pixels.update").order_by(AuditEntry.id))
    assert entry.changes == {"test_event_code": {"from": None, "to": "EDITED1"}}
    # Unknown names are still refused.
    refused = api.put("/api/v1/pixels", {**body, "facebook_token_set": True}, status=422)
    assert set(refused.json["error"]["fields"]) == {"facebook_token_set"}


def test_the_settings_page_saves_and_keeps_what_was_typed_on_errors(api, db, company):
    page = api.client.get("/settings/pixels")
    assert "Meta pixel id" in page.text and "Send test event" in page.text
    form = page.forms["pixels-form"]
    form["facebook_pixel_id"] = "123"
    form["facebook_access_token"] = META_TOKEN
    refused = form.submit(status=400)
    assert "A Meta pixel id is 15 or 16 digits." in refused.text and 'value="123"' in refused.text
    assert META_TOKEN not in refused.text
    assert stored(db, company) is None
    form = api.client.get("/settings/pixels").forms["pixels-form"]
    form["facebook_pixel_id"] = META_PIXEL
    form["facebook_access_token"] = META_TOKEN
    form.submit(status=303)
    row = stored(db, company)
    assert row.facebook_pixel_id == META_PIXEL and row.facebook_access_token
    again = api.client.get("/settings/pixels")
    assert META_TOKEN not in again.text and "Remove the stored Meta token" in again.text


def test_saving_the_settings_page_writes_an_audit_row_without_the_token(api, db, company):
    form = api.client.get("/settings/pixels").forms["pixels-form"]
    form["facebook_pixel_id"] = META_PIXEL
    form["facebook_access_token"] = META_TOKEN
    form["require_consent"] = False
    form.submit(status=303)
    db.expire_all()
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "pixels.update")).all()
    assert (entry.company_id, entry.actor_name, entry.target_type) == (company.id, "olga", "pixel_settings")
    assert entry.changes["facebook_pixel_id"] == {"from": None, "to": META_PIXEL}
    assert entry.changes["facebook_access_token"] == {"from": None, "to": "set"}
    assert entry.changes["require_consent"] == {"from": True, "to": False}
    assert META_TOKEN not in json.dumps(entry.changes)
    # Saving again without a change writes nothing.
    api.client.get("/settings/pixels").forms["pixels-form"].submit(status=303)
    db.expire_all()
    assert len(db.scalars(select(AuditEntry).where(AuditEntry.action == "pixels.update")).all()) == 1


def _test_button(page):
    [form] = [form for form in page.forms.values() if form.action.endswith("/settings/pixels/test")]
    return form


def test_the_send_test_event_button_queues_the_events_and_is_audited(api, db, company):
    configure(api)
    answer = _test_button(api.client.get("/settings/pixels")).submit(status=303)
    assert answer.location.endswith("/settings/pixels")
    assert "Test event queued" in answer.follow().text
    db.expire_all()
    queued = db.scalars(select(Delivery).where(Delivery.channel.like("pixels.%"))).all()
    assert {(row.channel, row.company_id, row.payload["kind"]) for row in queued} == {
        ("pixels.meta", company.id, "test"),
        ("pixels.tiktok", company.id, "test"),
    }
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "pixels.test")).all()
    assert (entry.company_id, entry.actor_name) == (company.id, "olga")
    assert sorted(entry.changes["event_ids"]) == sorted(row.event_id for row in queued)


def test_the_send_test_event_button_without_a_token_says_so(api, db, unchanged):
    with unchanged():
        answer = _test_button(api.client.get("/settings/pixels")).submit(status=303)
    assert "Set a Meta or TikTok access token first." in answer.follow().text


def test_the_send_test_event_button_needs_the_csrf_token_and_the_permission(
    api, client_for, make_user, company, db, unchanged
):
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL, "facebook_access_token": META_TOKEN})
    with unchanged():
        api.client.post("/settings/pixels/test", {}, status=400)
        api.client.post("/settings/pixels/test", {"csrf_token": "forged"}, status=400)
    manager = client_for(make_user(company, "MANAGER", username="manny"))
    with unchanged():
        manager.client.post("/settings/pixels/test", {"csrf_token": csrf_token(manager.client)}, status=403)


def test_a_token_stored_without_the_companys_own_pixel_is_kept_unused_through_other_saves(api, db, company, pixels_app):
    # Saved before a token needed the company's own pixel id.
    secret = shared(pixels_app.registry, Encryptor).encrypt(META_TOKEN)
    db.add(
        PixelSettings(
            company_id=company.id,
            facebook_access_token=secret,
            require_consent=True,
            meta_won_event="Purchase",
            tiktok_won_event="CompletePayment",
            consecutive_failures=0,
        )
    )
    db.commit()
    page = api.client.get("/settings/pixels")
    assert 'data-token-unused="facebook"' in page.text
    assert "The stored Meta token is not used" in page.text and 'data-token-unused="tiktok"' not in page.text
    body = api.get("/api/v1/pixels").json
    assert body["facebook_access_token_set"] is True and body["facebook_pixel_id"] is None
    # Other settings save, alone or as GET answered them.
    assert api.put("/api/v1/pixels", {"require_consent": False}).json["require_consent"] is False
    body["test_event_code"] = "EDITED1"
    assert api.put("/api/v1/pixels", body).json["test_event_code"] == "EDITED1"
    api.client.get("/settings/pixels").forms["pixels-form"].submit(status=303)
    assert stored(db, company).facebook_access_token == secret
    # A token entered again still needs the pixel id; the pixel id puts the stored one to use.
    refused = api.put("/api/v1/pixels", {"facebook_access_token": "EAAB-another"}, status=422)
    assert set(refused.json["error"]["fields"]) == {"facebook_pixel_id"}
    api.put("/api/v1/pixels", {"facebook_pixel_id": META_PIXEL})
    assert "data-token-unused" not in api.client.get("/settings/pixels").text
    assert stored(db, company).facebook_access_token == secret
