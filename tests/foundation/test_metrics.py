"""GET /metrics: the token rules, request counters and histograms by route and status
class, database pool and outbox gauges, no tenant in any label, and the values of two
real server processes summed by one scrape."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import webtest

from foundation.helpers import ROOT, TEST_SECRET, base_env, free_port, run, start_server, stop, wait_for_http
from orbitflow.app import make_app
from orbitflow.deliveries.models import Delivery
from orbitflow.models.meta import utcnow
from support import sign_in

TOKEN = "metrics-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def metrics_app(backend):
    # Funnel events wait a minute: the test flushes them itself.
    ini = backend.ini(**{"quiz.funnel_flush_seconds": "60"})
    return make_app(ini, environ={"METRICS_TOKEN": TOKEN}, engine=backend.engine)


@pytest.fixture
def client(metrics_app, db):
    return webtest.TestApp(metrics_app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.4"})


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    # Imported here: prometheus_client must first be imported by the app (multiprocess mode).
    from prometheus_client.parser import text_string_to_metric_families

    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client) -> str:
    return client.get("/metrics", headers=BEARER, status=200).text


def test_metrics_are_off_without_a_token(testapp):
    testapp.get("/metrics", status=404)
    testapp.get("/metrics", headers=BEARER, status=404)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ", TOKEN],
    ids=["none", "wrong", "basic", "longer", "empty", "no-scheme"],
)
def test_the_token_is_required(client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/metrics", headers=headers, status=401)
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "http_requests_total" not in response.text


def test_the_right_token_gets_the_prometheus_text_format(client):
    response = client.get("/metrics", headers=BEARER, status=200)
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    assert "# TYPE http_requests_total counter" in response.text
    assert "# TYPE http_request_duration_seconds histogram" in response.text
    # Any host name: Prometheus scrapes the container by its address.
    client.get("/metrics", headers={**BEARER, "Host": "10.1.2.3:3000"}, status=200)


def test_counters_and_histograms_move_after_requests(client):
    before = scrape(client)
    for _ in range(3):
        client.get("/api/health", status=200)
    client.get("/login", status=200)
    client.get("/no-such-page", status=404)
    after = scrape(client)
    assert (
        value(after, "http_requests_total", route="health", method="GET", status="2xx")
        - value(before, "http_requests_total", route="health", method="GET", status="2xx")
        == 3
    )
    assert (
        value(after, "http_request_duration_seconds_count", route="health", method="GET", status="2xx")
        - value(before, "http_request_duration_seconds_count", route="health", method="GET", status="2xx")
        == 3
    )
    assert (
        value(after, "http_request_duration_seconds_bucket", route="health", method="GET", status="2xx", le="+Inf") >= 3
    )
    assert value(after, "http_requests_total", route="login", method="GET", status="2xx") > value(
        before, "http_requests_total", route="login", method="GET", status="2xx"
    )
    for name in ("http_requests_total", "http_request_duration_seconds_count"):
        assert (
            value(after, name, route="unmatched", method="GET", status="4xx")
            - value(before, name, route="unmatched", method="GET", status="4xx")
            == 1
        ), name


def test_server_errors_are_counted_when_the_database_goes_away(backend, tmp_path):
    """An app whose database cannot be reached: its pages answer 503, and each one counts in
    http_request_errors_total and under the 5xx class of the request series."""
    if backend.name == "sqlite":
        gone = f"sqlite:///{tmp_path / 'removed-folder' / 'orbitflow.sqlite'}"
    else:
        gone = f"mysql://root@127.0.0.1:{free_port()}/orbitflow?connect_timeout=2"
    app = make_app(backend.ini(**{"sqlalchemy.url": gone}), environ={"METRICS_TOKEN": TOKEN})
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.5"})
    before = scrape(client)
    client.get("/api/health", status=503)
    for _ in range(2):
        # The quiz page too: the server (or the SQLite file) is unavailable, not the request wrong.
        client.get("/q/no-such-company/no-such-quiz", status=503)
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("http_request_errors_total", route="health") == 1
    assert moved("http_request_errors_total", route="quiz_public") == 2
    assert moved("http_requests_total", route="quiz_public", method="GET", status="5xx") == 2
    assert moved("http_request_duration_seconds_count", route="quiz_public", method="GET", status="5xx") == 2
    assert moved("http_request_duration_seconds_count", route="quiz_public", method="GET", status="2xx") == 0


def test_pool_and_outbox_gauges(client, db, make_company):
    text = scrape(client)
    assert value(text, "db_pool_size") >= 5
    # The scrape's own request holds no connection once answered; the gauge is not negative.
    assert value(text, "db_pool_connections_in_use") >= 0
    assert value(text, "outbox_pending_deliveries") == 0
    assert value(text, "outbox_oldest_pending_age_seconds") == 0
    company = make_company(name="Outbox Co")
    for index, age in enumerate((120, 30)):
        db.add(
            Delivery(
                company_id=company.id,
                channel="webhook",
                destination=f"https://example.com/{index}",
                event_id=f"evt-{index}",
                payload={},
                created_at=utcnow() - timedelta(seconds=age),
            )
        )
    db.add(
        Delivery(
            company_id=company.id, channel="webhook", destination="https://example.com/d", event_id="done",
            payload={}, status="delivered",
        )
    )  # fmt: skip
    db.commit()
    text = scrape(client)
    assert value(text, "outbox_pending_deliveries") == 2
    assert 119 <= value(text, "outbox_oldest_pending_age_seconds") < 300


def test_the_funnel_backlog_counts_events_not_yet_written(client, metrics_app, make_company):
    from orbitflow.shared import shared
    from orbitflow_plugins.quiz.recorder import FunnelEvent, FunnelRecorder

    recorder = shared(metrics_app.registry, FunnelRecorder)
    company = make_company(name="Funnel Co")
    recorder.buffer.take(10_000)
    recorder.flush()
    assert value(scrape(client), "funnel_recorder_backlog") == 0
    for number in range(3):
        recorder.record(FunnelEvent(company.id, 999999, f"s{number}", "view"))
    assert value(scrape(client), "funnel_recorder_backlog") == 3
    # Written (or here, dropped: quiz 999999 does not exist) and the gauge follows.
    recorder.buffer.take(10_000)
    recorder.flush()
    assert value(scrape(client), "funnel_recorder_backlog") == 0


def test_no_label_names_a_company_or_a_user(client, make_company, make_user, db):
    company = make_company(name="Label Co", subscription_id="label-co")
    owner = make_user(company, "OWNER", username="labelowner")
    browser = sign_in(webtest.TestApp(client.app, extra_environ={"HTTP_HOST": "localhost"}), owner)
    browser.get("/dashboard", status=200)
    browser.get("/leads", status=200)
    browser.get("/api/v1/me", status=200)
    browser.get("/q/label-co/no-such-quiz", status=404)
    text = scrape(client)
    names = set()
    values = set()
    for (_name, labels), _value in samples(text).items():
        for label, label_value in labels:
            names.add(label)
            if label != "le":
                values.add(label_value)
    assert names <= {"route", "method", "status", "le"}
    assert {"dashboard", "leads", "api_me"} & values or "dashboard" in values
    for forbidden in (str(company.id), "label-co", "labelowner", str(owner.id), "/leads", "/api/v1/me"):
        assert forbidden not in values


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
def test_two_server_processes_are_summed_by_one_scrape(tmp_path):
    """Two servers of production.ini (gunicorn through pserve) writing into one
    PROMETHEUS_MULTIPROC_DIR, as the workers of one server do: a scrape of either one
    counts the requests of both, and a stopped one's live gauges stop counting."""
    shared_dir = tmp_path / "metrics"
    database = f"sqlite:///{tmp_path / 'metrics.sqlite'}"
    common = {
        "DATABASE_URL": database,
        "AUTH_SECRET": TEST_SECRET,
        "AUTH_URL": "http://localhost",
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(shared_dir),
    }
    migrated = run(["orbitflow", "migrate", ROOT / "production.ini"], base_env(tmp_path, **common), cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    servers = []

    def serve() -> str:
        port = free_port()
        server = start_server(
            ["pserve", ROOT / "production.ini"], base_env(tmp_path, PORT=str(port), **common), tmp_path
        )
        servers.append(server)
        wait_for_http(f"http://127.0.0.1:{port}/api/health", server)
        return f"http://127.0.0.1:{port}"

    def scraped(url: str) -> str:
        status, text = _get(f"{url}/metrics", BEARER)
        assert status == 200, text
        return text

    try:
        first = serve()
        one_pool = value(scraped(first), "db_pool_size")
        assert one_pool >= 1
        second = serve()
        for _ in range(2):
            assert _get(f"{first}/api/health")[0] == 200
        for _ in range(4):
            assert _get(f"{second}/api/health")[0] == 200
        assert _get(f"{second}/metrics")[0] == 401
        # 1 + 2 health checks in the first (wait_for_http's and ours), 1 + 4 in the second.
        for url in (first, second):
            text = scraped(url)
            assert value(text, "http_requests_total", route="health", method="GET", status="2xx") == 8
            assert value(text, "http_request_duration_seconds_count", route="health", method="GET", status="2xx") == 8
            # Each worker has a pool of its own; the gauge sums the live ones.
            assert value(text, "db_pool_size") == 2 * one_pool
        # One worker process of each server wrote counters.
        assert len(list(shared_dir.glob("counter_*.db"))) == 2
        stop(servers.pop())
        after = scraped(first)
        # The stopped worker's requests stay counted; its pool no longer does (child_exit).
        assert value(after, "http_requests_total", route="health", method="GET", status="2xx") == 8
        assert value(after, "db_pool_size") == one_pool
    finally:
        for server in servers:
            stop(server)


@pytest.mark.slow
def test_one_scrape_sums_both_workers_of_one_server(tmp_path):
    """production.ini with WEB_CONCURRENCY=2 and no PROMETHEUS_MULTIPROC_DIR, as the image
    runs it: the workers share the directory the server made, and a scrape answered by
    either worker counts the requests of both."""
    database = f"sqlite:///{tmp_path / 'metrics.sqlite'}"
    port = free_port()
    env = base_env(
        tmp_path,
        DATABASE_URL=database,
        AUTH_SECRET=TEST_SECRET,
        AUTH_URL="http://localhost",
        METRICS_TOKEN=TOKEN,
        WEB_CONCURRENCY="2",
        PORT=str(port),
        LOG_FORMAT="json",
        TMPDIR=str(tmp_path),  # where the default directory is made, to look at it
    )
    assert "PROMETHEUS_MULTIPROC_DIR" not in env
    migrated = run(["orbitflow", "migrate", ROOT / "production.ini"], env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    server = start_server(["pserve", ROOT / "production.ini"], env, tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/health", server)
        before = _get(f"{url}/metrics", BEARER)[1]

        def health(_number: int) -> None:
            for _ in range(6):
                assert _get(f"{url}/api/health")[0] == 200

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(health, range(8)))
        status, after = _get(f"{url}/metrics", BEARER)
        assert status == 200, after
        labels = {"route": "health", "method": "GET", "status": "2xx"}
        assert value(after, "http_requests_total", **labels) - value(before, "http_requests_total", **labels) == 48
        [directory] = tmp_path.glob("orbitflow-metrics-*")
        assert len(list(directory.glob("counter_*.db"))) == 2
    finally:
        output = stop(server)
    answered_by = {
        json.loads(line)["pid"]
        for line in output.splitlines()
        if line.startswith("{") and json.loads(line)["logger"] == "orbitflow.access"
    }
    assert len(answered_by) == 2, answered_by


def test_the_redis_funnel_backlog_is_read_at_the_scrape(backend, redis_url, make_company):
    """With REDIS_URL the events wait in one list for every process: its length is the gauge."""
    import redis

    from orbitflow.shared import shared
    from orbitflow_plugins.quiz.recorder import FunnelEvent, FunnelRecorder

    redis.Redis.from_url(redis_url).flushdb()
    ini = backend.ini(**{"quiz.funnel_flush_seconds": "60"})
    app = make_app(ini, environ={"METRICS_TOKEN": TOKEN, "REDIS_URL": redis_url}, engine=backend.engine)
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    recorder = shared(app.registry, FunnelRecorder)
    company = make_company(name="Redis Funnel Co")
    assert value(scrape(client), "funnel_recorder_redis_backlog") == 0
    for number in range(4):
        recorder.record(FunnelEvent(company.id, 999999, f"r{number}", "view"))
    assert value(scrape(client), "funnel_recorder_redis_backlog") == 4
    recorder.buffer.take(10_000)
    assert value(scrape(client), "funnel_recorder_redis_backlog") == 0
    recorder.close()
