"""schemathesis against /api/v1/openapi.json, in process (WSGI), with an owner's API key.

Every operation of the document gets schemathesis' coverage phase (boundary values, each
field missing or of the wrong type, methods the path does not take) and a fixed number of
generated examples, valid and invalid, derandomized so a run is repeatable. The checks:

- ``not_a_server_error``: no 5xx, whatever is sent;
- ``response_schema_conformance`` (and status code, content type): what is answered is
  what the document says;
- ``negative_data_rejection``: a request the document calls invalid is refused with 4xx;
- ``unsupported_method``: a method the path does not take answers 405 with Allow.
"""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.engine import Status, events

from orbitflow.accounts.models import ApiKey
from orbitflow.security import hash_api_key

KEY = "of_" + "s" * 40
# About 3,000 requests and 45 s of CPU on SQLite: the coverage phase's cases plus
# this many generated ones per operation.
MAX_EXAMPLES = 5
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
)


@pytest.fixture
def api_schema(wsgi_app, db, make_company, make_user):
    company = make_company(name="Fuzzed Co", plan="ENTERPRISE")
    owner = make_user(company, "OWNER", username="fuzz-owner")
    db.add(
        ApiKey(
            company_id=company.id,
            name="schemathesis",
            role="OWNER",
            prefix=KEY[:8],
            key_hash=hash_api_key(KEY),
            created_by_id=owner.id,
        )
    )
    db.commit()
    config = schemathesis.Config.from_dict(
        {
            "headers": {"Authorization": f"Bearer {KEY}", "Host": "localhost"},
            "continue-on-failure": True,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
        }
    )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app, config=config)


def run(schema) -> tuple[list[str], int]:
    """Run schemathesis' engine over every operation: (failures in words, requests made)."""
    failures: list[str] = []
    requests = 0
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            requests += len(event.recorder.interactions)
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.status == Status.FAILURE and node.failure_info is not None:
                        failure = node.failure_info.failure
                        failures.append(
                            f"{event.recorder.label}: {node.name}: {failure.title}\n{failure.message}\n"
                            f"{node.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"error: {event.info if hasattr(event, 'info') else event.exception}")
    return sorted(set(failures)), requests


@pytest.mark.slow
def test_the_api_keeps_to_its_document(api_schema, backend):
    if backend.name != "sqlite":
        # The run's budget (about two minutes) is spent on one backend; the API's SQL is
        # the same on both, and the webtest suites cover MariaDB.
        pytest.skip("schemathesis runs on SQLite")
    failures, requests = run(api_schema)
    assert requests > 1000, requests
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:40])
