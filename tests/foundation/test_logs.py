"""Request ids and log lines: in the response header, on the error page, in every line
logged during the request, and as JSON objects with LOG_FORMAT=json."""

from __future__ import annotations

import json
import re
import urllib.request

from foundation.helpers import ROOT, TEST_SECRET, base_env, free_port, nonblank_lines, run, start_server, stop
from foundation.helpers import wait_for_http as wait_until_serving

PRODUCTION_INI = ROOT / "production.ini"


def test_every_response_carries_a_request_id_and_keeps_a_proxy_s_own(probe_client):
    first = probe_client.get("/login")
    second = probe_client.get("/login")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    kept = probe_client.get("/login", headers={"X-Request-ID": "nginx-4f1c2a9be0d3"})
    assert kept.headers["X-Request-ID"] == "nginx-4f1c2a9be0d3"
    # Anything that does not look like an id (here: a header injection attempt) is replaced.
    replaced = probe_client.get("/login", headers={"X-Request-ID": 'x" onload=alert(1)'})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])


def test_the_error_page_shows_the_request_id(probe_client):
    page = probe_client.get("/probe/boom", status=500)
    request_id = page.headers["X-Request-ID"]
    assert f"Request id: <code>{request_id}</code>" in page.text
    api = probe_client.get("/api/probe/boom", status=500)
    assert re.fullmatch(r"[0-9a-f]{32}", api.headers["X-Request-ID"])


def serve_production(tmp_path, **env: str):
    database = f"sqlite:///{tmp_path / 'logs.sqlite'}"
    port = free_port()
    environment = base_env(
        tmp_path, DATABASE_URL=database, AUTH_SECRET=TEST_SECRET, AUTH_URL="http://localhost", PORT=str(port), **env
    )
    migrated = run(["orbitflow", "migrate", PRODUCTION_INI], environment, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    server = start_server(["pserve", PRODUCTION_INI], environment, cwd=tmp_path)
    return server, port


def get(port: int, path: str, request_id: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"X-Request-ID": request_id})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["X-Request-ID"] == request_id
        return response.status


def test_json_logs_are_one_object_per_line_with_the_start_up_line_and_access_lines(tmp_path):
    server, port = serve_production(tmp_path, LOG_FORMAT="json")
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/health", server)
        assert get(port, "/api/health", "req-health-000001") == 200
        assert get(port, "/login", "req-login-0000002") == 200
    finally:
        server.terminate()
        _, output = server.communicate(timeout=30)
    # Every log line is one JSON object; pserve itself prints plain lines as a process
    # starts and as each one (the server, its workers) exits.
    pserve_lines = ("Starting server in PID", "Exiting")
    lines = [json.loads(line) for line in nonblank_lines(output) if not line.startswith(pserve_lines)]
    assert all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    listening = [line for line in lines if line["message"].startswith("Server listening on port")]
    assert listening and listening[0]["port"] == port
    assert listening[0]["message"] == f"Server listening on port {port} (http://localhost:{port}, bound to 0.0.0.0)"
    access = {line["request_id"]: line for line in lines if line["logger"] == "orbitflow.access"}
    assert access["req-health-000001"]["status"] == 200
    assert access["req-health-000001"]["route"] == "health"
    assert access["req-login-0000002"]["path"] == "/login"
    assert access["req-login-0000002"]["duration_ms"] >= 0
    assert TEST_SECRET not in output


def test_text_logs_carry_the_request_id_and_a_bad_log_format_is_one_line(tmp_path):
    server, port = serve_production(tmp_path)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/health", server)
        get(port, "/login", "req-text-00000003")
    finally:
        output = stop(server)
    assert any("[req-text-00000003]" in line and '"GET /login" 200' in line for line in output.splitlines())

    environment = base_env(
        tmp_path, DATABASE_URL="sqlite://", AUTH_SECRET=TEST_SECRET, AUTH_URL="http://localhost", LOG_FORMAT="xml"
    )
    result = run(["pserve", PRODUCTION_INI], environment, cwd=tmp_path, timeout=60)
    assert result.returncode != 0
    message = "orbitflow: configuration error: LOG_FORMAT must be text or json, got 'xml'"
    assert nonblank_lines(result.stderr)[-1] == message
