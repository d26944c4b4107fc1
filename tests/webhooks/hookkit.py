"""Helpers of the webhook tests. A real HTTP receiver on 127.0.0.1 that verifies Standard Webhooks signatures with the
``standardwebhooks`` library and answers as the test scripts it."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import webtest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from orbitflow.deliveries import Delivery
from support import csrf_token


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str = ""

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok":true}'
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    def __init__(self) -> None:
        self.secret: str | None = None
        self.answers: list[Answer] = []
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # One write per answer: no 40 ms wait for the client's delayed ACK.
            disable_nagle_algorithm = True
            wbufsize = -1

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {key.lower(): value for key, value in self.headers.items()}
                verified, error = False, "no secret set"
                if receiver.secret:
                    try:
                        Webhook(receiver.secret).verify(body, headers)
                        verified, error = True, ""
                    except WebhookVerificationError as failure:
                        error = str(failure)
                with receiver.lock:
                    receiver.received.append(Received(self.path, headers, body, verified, error))
                    answer = receiver.answers.pop(0) if receiver.answers else Answer()
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/orbitflow"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.secret = None
            self.answers.clear()
            self.received.clear()


class Api:
    def __init__(self, client: webtest.TestApp):
        self.client = client

    def _headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": csrf_token(self.client), "Accept": "application/json"}

    def get(self, url, status=200):
        return self.client.get(url, headers={"Accept": "application/json"}, status=status)

    def post(self, url, body=None, status=200):
        if body is None:
            return self.client.post(url, headers=self._headers(), status=status)
        return self.client.post_json(url, body, headers=self._headers(), status=status)

    def patch(self, url, body, status=200):
        return self.client.patch_json(url, body, headers=self._headers(), status=status)

    def delete(self, url, status=204):
        return self.client.delete(url, headers=self._headers(), status=status)


def deliveries(db) -> list[Delivery]:
    db.expire_all()
    return list(db.scalars(select(Delivery).order_by(Delivery.id)))
