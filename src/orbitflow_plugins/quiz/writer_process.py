"""The submission writer in a process of its own (``quiz.writer = process``, the default).

Group commit (:mod:`orbitflow_plugins.quiz.intake`) makes one writer do the database work
of many submissions, so its speed is the speed of every submission. In the app process it
shares the interpreter lock with the request threads: each time the database answers one
of its statements, it waits for a busy request thread to let go, and its round trips take
several times as long as the database needs. In a process of its own it has the lock to
itself.

Each app process (each worker) starts one writer process the first time a quiz is posted:
a fresh interpreter (``python -m orbitflow_plugins.quiz.writer_process``) that shares no
state with its parent and talks to it over a socket pair. Requests send their
checked drafts down a pipe; the writer process takes everything that has arrived, writes
it with :class:`~orbitflow_plugins.quiz.intake.SubmissionWriter` (one transaction, or one
per draft when that fails) and sends each outcome back. Errors travel as their
:func:`~orbitflow_plugins.quiz.intake.classify` kind. If the writer process dies, the
requests waiting for it get :class:`~orbitflow.db.DatabaseUnavailable` (503, try again)
and the next submission starts a new one. It exits when the app process does: its pipe
closes.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from orbitflow.config import DatabaseSettings
from orbitflow.db import DatabaseUnavailable
from orbitflow_plugins.quiz.intake import LostRace, QuizChanged, SubmissionWriter, WriteConflict, classify
from orbitflow_plugins.quiz.submissions import Draft, Stored

log = logging.getLogger(__name__)

# How an error crosses the pipe, and how it is raised again on this side.
ERROR_KINDS: dict[str, type[Exception]] = {
    "changed": QuizChanged,
    "race": LostRace,
    "conflict": WriteConflict,
    "unavailable": DatabaseUnavailable,
}
START_SECONDS = 30.0
# Longer than any write can take (the database's read timeout is 60 s); past it the
# request gets a 503, and the visitor's retry meets the form token's unique key.
REPLY_SECONDS = 120.0


def _kind(error: Exception) -> str:
    classified = classify(error)
    return next((kind for kind, cls in ERROR_KINDS.items() if isinstance(classified, cls)), "error")


def serve_writes(pipe: Connection) -> None:
    """The writer process: write what arrives until the pipe closes."""
    from orbitflow.db import make_engine

    database, secret = pipe.recv()
    # Ctrl-C in a terminal reaches the whole process group; the app process decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    writer = SubmissionWriter(make_engine(database, pool_size=2), secret)
    pipe.send(("ready", None))
    while True:
        try:
            batch = [pipe.recv()]
            while pipe.poll():
                batch.append(pipe.recv())
        except (EOFError, OSError):
            return
        outcomes = writer.write_together([draft for _, draft in batch])
        replies = []
        for (number, _), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                replies.append((number, _kind(outcome), str(outcome)[:500]))
            else:
                replies.append((number, "stored", outcome))
        try:
            pipe.send(replies)
        except (BrokenPipeError, OSError):
            return


@dataclass(eq=False)
class _Waiting:
    done: threading.Event = field(default_factory=threading.Event)
    kind: str = ""
    value: object = None


class ProcessWriter:
    """One per app process; the same ``store`` as
    :class:`~orbitflow_plugins.quiz.intake.SubmissionWriter`."""

    def __init__(self, database: DatabaseSettings, secret: str):
        self.database = database
        self.secret = secret
        self._lock = threading.Lock()
        self._numbers = itertools.count()
        self._waiting: dict[int, _Waiting] = {}
        self._pipe: Connection | None = None
        self._process: subprocess.Popen | None = None

    def store(self, draft: Draft) -> Stored:
        """Store ``draft`` and its lead; returns once they are committed."""
        waiting = _Waiting()
        with self._lock:
            pipe = self._pipe or self._start()
            number = next(self._numbers)
            self._waiting[number] = waiting
            try:
                pipe.send((number, draft))
            except (BrokenPipeError, OSError):
                self._waiting.pop(number, None)
                self._stopped(pipe)
                raise DatabaseUnavailable("the quiz submission writer stopped") from None
        if not waiting.done.wait(REPLY_SECONDS):
            with self._lock:
                self._waiting.pop(number, None)
            raise DatabaseUnavailable("the quiz submission writer did not answer")
        if waiting.kind == "stored":
            assert isinstance(waiting.value, Stored)
            return waiting.value
        raise ERROR_KINDS.get(waiting.kind, RuntimeError)(waiting.value)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _start(self) -> Connection:
        # A fresh interpreter running this module, not multiprocessing's "spawn": that
        # would import the app process's main script again, whatever it is.
        ours_socket, theirs_socket = socket.socketpair()
        environ = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(theirs_socket.fileno())],
            pass_fds=[theirs_socket.fileno()],
            env=environ,
            stdin=subprocess.DEVNULL,
        )
        theirs_socket.close()
        ours = Connection(ours_socket.detach())
        try:
            ours.send((self.database, self.secret))
            if not ours.poll(START_SECONDS):
                raise EOFError
            ours.recv()
        except (EOFError, OSError):
            process.kill()
            process.wait()
            ours.close()
            raise DatabaseUnavailable("the quiz submission writer did not start") from None
        self._pipe, self._process = ours, process
        threading.Thread(target=self._receive, args=(ours,), name="orbitflow-quiz-replies", daemon=True).start()
        return ours

    def _receive(self, pipe: Connection) -> None:
        process = self._process
        while True:
            try:
                replies = pipe.recv()
            except (EOFError, OSError):
                with self._lock:
                    self._stopped(pipe)
                if process is not None:
                    process.wait()  # no zombie left behind
                return
            for number, kind, value in replies:
                with self._lock:
                    waiting = self._waiting.pop(number, None)
                if waiting is not None:
                    waiting.kind, waiting.value = kind, value
                    waiting.done.set()

    def _stopped(self, pipe: Connection) -> None:
        """The writer process is gone: fail what waits for it; the next store starts another.
        Called with the lock held."""
        if self._pipe is not pipe:
            return
        if self._waiting:
            log.error("the quiz submission writer process stopped; %d submissions failed", len(self._waiting))
        self._pipe = None
        self._process = None
        pipe.close()
        for waiting in self._waiting.values():
            waiting.kind, waiting.value = "unavailable", "the quiz submission writer stopped"
            waiting.done.set()
        self._waiting.clear()


if __name__ == "__main__":
    serve_writes(Connection(int(sys.argv[1])))
