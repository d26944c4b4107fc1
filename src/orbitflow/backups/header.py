"""The first line of every backup file: its format and the migrations of the data."""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass
from pathlib import Path

MAGIC = "-- orbitflow-backup "
LOGICAL = "logical"
MARIADB_DUMP = "mariadb-dump"
FORMATS = (LOGICAL, MARIADB_DUMP)


class NotABackup(ValueError):
    """The file is not a gzip'd OrbitFlow backup."""


@dataclass(frozen=True)
class BackupHeader:
    format: str
    migrations: tuple[str, ...]
    created_at: str
    orbitflow_version: str
    source_backend: str

    def line(self) -> str:
        body = asdict(self)
        body["migrations"] = list(self.migrations)
        return MAGIC + json.dumps(body, sort_keys=True) + "\n"


def parse_header(line: str) -> BackupHeader:
    if not line.startswith(MAGIC):
        raise NotABackup("not an OrbitFlow backup (its first line is not an orbitflow-backup header)")
    try:
        body = json.loads(line[len(MAGIC) :])
        header = BackupHeader(
            format=body["format"],
            migrations=tuple(body["migrations"]),
            created_at=body["created_at"],
            orbitflow_version=body["orbitflow_version"],
            source_backend=body["source_backend"],
        )
    except (ValueError, KeyError, TypeError):
        raise NotABackup("the backup's header line is damaged") from None
    if header.format not in FORMATS:
        raise NotABackup(f"unknown backup format {header.format!r}")
    return header


def read_header(path: Path) -> BackupHeader:
    """The header of a backup file; :class:`NotABackup` for anything else."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            return parse_header(stream.readline(64 * 1024))
    except (OSError, EOFError, UnicodeDecodeError):
        raise NotABackup("not a gzip file") from None
