"""The ``egg:orbitflow#main`` server runner: waitress with OrbitFlow's defaults.

Listens on ``listen`` when the INI gives it, else on ``host`` and the ``PORT``
environment variable (3000 by default, as in the original deployment guide).
"""

from __future__ import annotations

import os
import sys

import waitress

DEFAULT_PORT = "3000"
# Waitress accepts 1 GiB bodies by default; the app refuses more than its own limit anyway.
MAX_BODY_BYTES = 16 * 1024 * 1024


def serve(app, global_conf, host: str = "0.0.0.0", port: str | None = None, listen: str | None = None, **kw):
    if listen is None:
        port = port or os.environ.get("PORT") or DEFAULT_PORT
        if not port.isdigit() or not 0 < int(port) < 65536:
            print(
                f"orbitflow: configuration error: PORT must be a number from 1 to 65535, got {port!r}", file=sys.stderr
            )
            raise SystemExit(2)
        listen = f"{host}:{port}"
    options = {
        "max_request_body_size": MAX_BODY_BYTES,
        "threads": 8,
        "ident": "OrbitFlow",
        "clear_untrusted_proxy_headers": True,
    }
    options.update(kw)
    waitress.serve(app, listen=listen, **options)
