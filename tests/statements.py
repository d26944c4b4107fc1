"""Counting the SQL statements a block of a test sends."""

from __future__ import annotations

import threading

from sqlalchemy import event


class Statements:
    """The SQL statements this thread sends while the block runs."""

    def __init__(self, engine) -> None:
        self.engine, self.sent = engine, []
        self.thread = threading.get_ident()

    def _seen(self, _connection, _cursor, statement, *_args) -> None:
        if threading.get_ident() == self.thread:
            self.sent.append(statement)

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)
