"""A lead as the API and webhooks show it (the public contract's fields)."""

from __future__ import annotations

from typing import Any

from orbitflow.api.helpers import iso
from orbitflow.leads.models import Lead


def lead_json(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.id,
        "name": lead.name,
        "email": lead.email,
        "phone": lead.phone,
        "company_name": lead.company_name,
        "value": None if lead.value is None else float(lead.value),
        "source": lead.source,
        "tags": lead.tags,
        "stage_id": lead.stage_id,
        "owner_id": lead.owner_id,
        "position": lead.position,
        "version": lead.version,
        "utm": {
            "source": lead.utm_source,
            "medium": lead.utm_medium,
            "campaign": lead.utm_campaign,
            "term": lead.utm_term,
            "content": lead.utm_content,
        },
        "referrer": lead.referrer,
        "consent": lead.consent,
        "consent_at": iso(lead.consent_at),
        "created_at": iso(lead.created_at),
        "updated_at": iso(lead.updated_at),
    }
