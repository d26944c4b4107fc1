"""Outbox throughput and cost: deliveries per second to a local receiver with 1 and 2
worker processes, and what a configured webhook adds to creating a lead.

Creates its own MariaDB database (dropped afterwards), migrates it, and:

1. enqueues ``--deliveries`` webhook deliveries, starts N worker processes (the same
   :class:`orbitflow.deliveries.Worker` that ``orbitflow worker`` runs) and times until
   every one is delivered to a receiver on 127.0.0.1 (a threaded HTTP server in this
   process answering 200), which also checks that each arrived exactly once; the floor
   is the receiver itself: the same number of POSTs sent by one client thread with
   keep-alive;
2. times ``POST /api/v1/leads`` through the real WSGI app (webtest) for a company without
   a webhook and one with a webhook subscribed to ``lead.created`` (the request only
   enqueues; no worker runs), alternating the two request by request so both meet the
   same noise; median and p95 over ``--repeat`` requests each, and the ratio of the
   medians (target <= 1.10).

With ``--calls`` it runs neither timing: it counts, deterministically, the Python function
calls (cProfile) and SQL statements of each alternating lead creation for the two
companies, and prints their medians and the ratio of the calls.

    .venv/bin/python bench/deliveries_bench.py
    .venv/bin/python bench/deliveries_bench.py --deliveries 2000 --repeat 400
    .venv/bin/python bench/deliveries_bench.py --calls --repeat 100
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import http.client
import multiprocessing
import os
import pstats
import re
import socket
import statistics
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import webtest
from sqlalchemy import create_engine, event, func, select, text

from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password
from orbitflow.app import make_app
from orbitflow.config import load_settings, parse_database_url
from orbitflow.crypto import Encryptor
from orbitflow.db import make_engine, make_session_factory, unscoped
from orbitflow.deliveries import Delivery, Outgoing, enqueue_many, worker_for
from orbitflow.lifecycle import shut_down
from orbitflow.migrations import alembic_config, upgrade_to_heads
from orbitflow.tenants.services import create_company
from orbitflow.webhooks import services as webhook_services

SECRET = "bench-secret-0123456789-0123456789-abcdef"
PASSWORD = "Bench-Password-42"
TARGET_RATIO = 1.10
SETUPS = (("no webhook", "plain"), ("one webhook", "hooked"))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("ORBITFLOW_BENCH_MARIADB", "mysql://root@127.0.0.1:3306"))
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=600, help="timed lead creations per set-up")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20, help="orbitflow.deliveries.batch_size")
    parser.add_argument(
        "--calls", action="store_true", help="count function calls and statements per lead creation instead of timing"
    )
    return parser.parse_args(argv)


class Counter(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without these, headers and body go out as two small writes and the client's
    # delayed ACK holds each answer for 40 ms.
    disable_nagle_algorithm = True
    wbufsize = -1
    seen: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.seen[self.headers.get("webhook-id", "")] += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def ini_for(url: str, batch: int) -> dict[str, str]:
    return {
        "sqlalchemy.url": url,
        "orbitflow.auth_secret": SECRET,
        "orbitflow.auth_url": "http://localhost",
        "orbitflow.plugins": "quiz pixels analytics",
        "orbitflow.deliveries.worker_thread": "false",
        "orbitflow.deliveries.batch_size": str(batch),
        "orbitflow.ratelimit_storage": "memory://",
    }


def _worker_process(url: str, batch: int, start: multiprocessing.Event) -> None:
    app = make_app(ini_for(url, batch), environ={"WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true"})
    worker = worker_for(app.registry)
    start.wait()
    worker.run_until_idle(max_cycles=10**9)


def fill(factory, company_id: int, destination: str, count: int) -> None:
    session = factory()
    session.info["tenant_bypass"] = True
    with session.begin():
        enqueue_many(
            session,
            [
                Outgoing(
                    company_id,
                    "webhook",
                    destination,
                    {"type": "lead.created", "timestamp": "2026-12-02T00:00:00Z", "data": {"n": number}},
                    f"evt_bench_{uuid.uuid4().hex}",
                )
                for number in range(count)
            ],
        )
    session.close()


def deliveries_per_second(
    url: str, factory, company_id: int, destination: str, count: int, workers: int, batch: int
) -> tuple[float, int]:
    Counter.seen.clear()
    fill(factory, company_id, destination, count)
    start = multiprocessing.Event()
    processes = [multiprocessing.Process(target=_worker_process, args=(url, batch, start)) for _ in range(workers)]
    for process in processes:
        process.start()
    time.sleep(3)  # let them import and connect before the clock starts
    began = time.perf_counter()
    start.set()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - began
    with factory() as session, unscoped(session):
        left = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status != "delivered"))
    duplicates = sum(1 for value in Counter.seen.values() if value != 1)
    if left or duplicates or len(Counter.seen) != count:
        raise SystemExit(f"outbox run wrong: {left} left, {duplicates} duplicates, {len(Counter.seen)} received")
    with factory() as session, unscoped(session), session.begin():
        session.execute(text("DELETE FROM delivery_attempts"))
        session.execute(text("DELETE FROM deliveries"))
    return count / elapsed, len(Counter.seen)


def receiver_floor(port: int, count: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = b'{"type":"lead.created","data":{}}'
    began = time.perf_counter()
    for number in range(count):
        connection.request("POST", "/", body, {"Content-Type": "application/json", "webhook-id": f"floor{number}"})
        connection.getresponse().read()
    elapsed = time.perf_counter() - began
    connection.close()
    return count / elapsed


def signed_in_client(app, subscription_id: str) -> tuple[webtest.TestApp, dict[str, str]]:
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"})
    page = client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    client.post(
        "/login",
        {"subscription_id": subscription_id, "username": "owner", "password": PASSWORD, "csrf_token": token},
        status=303,
    )
    return client, {"X-CSRF-Token": client.cookies["orbitflow_csrf"]}


def lead_creation_ms(app, repeat: int, warmup: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Alternate the two companies request by request, so both meet the same noise.
    Answers the wall times (ms) and the mean CPU time of this process per request (ms)."""
    clients = {label: signed_in_client(app, subscription) for label, subscription in SETUPS}
    times: dict[str, list[float]] = {label: [] for label, _ in SETUPS}
    cpu: dict[str, float] = {label: 0.0 for label, _ in SETUPS}
    for number in range(warmup + repeat):
        order = SETUPS if number % 2 == 0 else SETUPS[::-1]
        for label, _ in order:
            client, headers = clients[label]
            began, cpu_began = time.perf_counter(), time.process_time()
            client.post_json(
                "/api/v1/leads",
                {"name": f"Bench {number}", "email": f"b{number}@example.com"},
                headers=headers,
                status=201,
            )
            if number >= warmup:
                times[label].append((time.perf_counter() - began) * 1000)
                cpu[label] += (time.process_time() - cpu_began) * 1000 / repeat
    return times, cpu


def lead_creation_calls(app, engine, repeat: int, warmup: int) -> dict[str, tuple[list[int], list[int]]]:
    """Alternate the two companies request by request; answer, per set-up, the Python
    function calls (cProfile around the request) and SQL statements of each creation."""
    clients = {label: signed_in_client(app, subscription) for label, subscription in SETUPS}
    counts: dict[str, tuple[list[int], list[int]]] = {label: ([], []) for label, _ in SETUPS}
    statements = [0]
    request_thread = threading.get_ident()

    def count(*_args) -> None:
        # The request's own: the background writers (analytics rollups) flush in between.
        if threading.get_ident() == request_thread:
            statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    for number in range(warmup + repeat):
        order = SETUPS if number % 2 == 0 else SETUPS[::-1]
        for label, _ in order:
            client, headers = clients[label]
            statements[0] = 0
            profile = cProfile.Profile()
            profile.enable()
            client.post_json(
                "/api/v1/leads",
                {"name": f"Bench {number}", "email": f"b{number}@example.com"},
                headers=headers,
                status=201,
            )
            profile.disable()
            if number >= warmup:
                counts[label][0].append(pstats.Stats(profile).total_calls)
                counts[label][1].append(statements[0])
    event.remove(engine, "before_cursor_execute", count)
    return counts


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main(argv=None) -> int:
    args = parse_args(argv)
    name = f"orbitflow_bench_{uuid.uuid4().hex[:8]}"
    admin_url, _ = parse_database_url("server", args.server.rstrip("/") + "/mysql")
    admin = create_engine(admin_url.set(database=None), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = f"{args.server.rstrip('/')}/{name}"
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    receiver.daemon_threads = True
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = receiver.server_address[1]
    try:
        settings = load_settings(ini_for(url, args.batch), environ={})
        engine = make_engine(settings.database)
        upgrade_to_heads(alembic_config(settings, engine))
        factory = make_session_factory(engine)
        session = factory()
        session.info["tenant_bypass"] = True
        plain = create_company(session, name="Plain", subscription_id="plain", plan="ENTERPRISE")
        hooked = create_company(session, name="Hooked", subscription_id="hooked", plan="ENTERPRISE")
        password = hash_password(PASSWORD)
        for company in (plain, hooked):
            session.add(
                User(company_id=company.id, username="owner", name="Owner", role="OWNER", password_hash=password)
            )
        session.flush()
        hook, _secret = webhook_services.create_webhook(
            session,
            company_id=hooked.id,
            created_by_id=None,
            data={"url": f"http://127.0.0.1:{port}/hook", "events": ["lead.created"]},
            allow_private=True,
            encryptor=Encryptor(settings.encryption_keys),
        )
        session.commit()
        destination, hooked_id = hook.destination, hooked.id
        session.close()

        if args.calls:
            app = make_app(ini_for(url, args.batch), environ={}, engine=engine)
            counts = lead_creation_calls(app, engine, args.repeat, args.warmup)
            medians = {}
            for label, _ in SETUPS:
                calls, statements = counts[label]
                medians[label] = statistics.median(calls)
                print(
                    f"create a lead, {label:11s}: {medians[label]:8.0f} function calls (min {min(calls)}, "
                    f"max {max(calls)}), {statistics.median(statements):.0f} SQL statements"
                )
            print(f"function call ratio: {medians['one webhook'] / medians['no webhook']:.3f}")
            shut_down(app.registry)  # the background writers flush before the database goes
            engine.dispose()
            return 0

        floor = receiver_floor(port, args.deliveries)
        print(f"receiver floor (1 client, keep-alive): {floor:8.0f} POST/s")
        rates = {}
        for workers in (1, 2):
            rate, received = deliveries_per_second(
                url, factory, hooked_id, destination, args.deliveries, workers, args.batch
            )
            rates[workers] = rate
            print(
                f"{workers} worker process{'es' if workers > 1 else ''}: {rate:8.0f} deliveries/s "
                f"({received} received once each; {rate / floor:.0%} of the floor)"
            )
        print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")

        app = make_app(ini_for(url, args.batch), environ={}, engine=engine)
        results, cpu = lead_creation_ms(app, args.repeat, args.warmup)
        for label, _ in SETUPS:
            times = results[label]
            print(
                f"create a lead, {label:11s}: median {statistics.median(times):6.2f} ms, p95 {p95(times):6.2f} ms, "
                f"CPU of this process {cpu[label]:5.2f} ms"
            )
        print(f"CPU time ratio: {cpu['one webhook'] / cpu['no webhook']:.3f}")
        ratio = statistics.median(results["one webhook"]) / statistics.median(results["no webhook"])
        verdict = "within" if ratio <= TARGET_RATIO else "OVER"
        print(f"a configured webhook costs {ratio:.3f}x the lead creation ({verdict} the {TARGET_RATIO:.2f}x target)")
        shut_down(app.registry)
        engine.dispose()
    finally:
        receiver.shutdown()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
