"""The request body cap, applied before anything reads the body whole.

pyramid_retry copies the body into a seekable buffer before the request's first attempt
(so that a retry can read it again), and that happens before any tween runs. So the check
runs first in the retry policy's activate hook (``orbitflow.db.retry_activate_hook``),
and again, as a no-op, in the body-limit tween for apps without retries.
"""

from __future__ import annotations

from pyramid.request import Request

from orbitflow.config import get_settings

VERDICT_KEY = "orbitflow.body_over_limit"


def body_over_limit(request: Request) -> bool:
    """Whether the request body is over ``orbitflow.max_body_bytes``.

    A declared length is believed; a chunked body (no length) is read one byte past the
    limit at most, and kept for the view when it fits. The verdict is kept in the environ,
    which every attempt of the request shares.
    """
    environ = request.environ
    if VERDICT_KEY not in environ:
        limit = get_settings(request.registry).max_body_bytes
        length = request.content_length
        if length is None and request.is_body_readable:
            data = request.body_file_raw.read(limit + 1)
            length = len(data)
            if length <= limit:
                request.body = data
        environ[VERDICT_KEY] = length is not None and length > limit
    return environ[VERDICT_KEY]
