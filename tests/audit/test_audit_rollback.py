"""No audit row for a change that rolled back: the entry shares the change's transaction."""

from __future__ import annotations

from sqlalchemy import func, select

from orbitflow.audit.models import AuditEntry
from orbitflow.tenants.models import Company
from support import csrf_token


def test_audit_row_is_absent_when_the_request_fails_after_auditing(admin_client, platform, db):
    # The view saves and audits the new name, then refuses to deactivate the platform
    # company: the request fails, so neither the name nor its audit entry may remain.
    response = admin_client.patch_json(
        f"/api/v1/admin/companies/{platform.id}",
        {"name": "Renamed Platform", "is_active": False},
        headers={"X-CSRF-Token": csrf_token(admin_client)},
        status=422,
    )
    assert response.json["error"]["fields"] == {"is_active": "The platform company cannot be deactivated."}
    db.expire_all()
    assert db.get(Company, platform.id).name == "OrbitFlow Platform"
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.company_id == platform.id)).all()
    assert "company.update" not in actions
    assert "company.deactivate" not in actions


def test_audit_row_is_written_with_the_change(admin_client, platform, db):
    admin_client.patch_json(
        f"/api/v1/admin/companies/{platform.id}",
        {"name": "Renamed Platform"},
        headers={"X-CSRF-Token": csrf_token(admin_client)},
        status=200,
    )
    db.expire_all()
    assert db.get(Company, platform.id).name == "Renamed Platform"
    count = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "company.update")
    assert db.scalar(count) == 1
