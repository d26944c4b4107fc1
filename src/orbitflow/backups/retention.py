"""``--keep-days N``: delete the OrbitFlow backups of a folder older than N days.

Only files whose first line is an OrbitFlow backup header are candidates, so a folder
shared with other files loses nothing else."""

from __future__ import annotations

import time
from pathlib import Path

from orbitflow.backups.header import NotABackup, read_header

DAY = 86400


def prune(folder: Path, keep_days: int, keep: Path, now: float | None = None) -> list[Path]:
    """Delete backups in ``folder`` last modified more than ``keep_days`` ago (never ``keep``)."""
    cutoff = (time.time() if now is None else now) - keep_days * DAY
    deleted = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.resolve() == keep.resolve() or path.stat().st_mtime >= cutoff:
            continue
        try:
            read_header(path)
        except NotABackup:
            continue
        path.unlink()
        deleted.append(path)
    return deleted
