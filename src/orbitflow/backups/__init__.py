"""Backups and restores of the whole database.

A backup is one gzip file whose first line names what it holds (:mod:`.header`): a
``mariadb-dump --single-transaction`` of a MariaDB database when that tool is installed,
otherwise a logical dump read through SQLAlchemy in one consistent snapshot (MariaDB or
SQLite; it restores into either). ``orbitflow backup`` and ``orbitflow restore`` drive it.
"""

from orbitflow.backups.header import BackupHeader, read_header
from orbitflow.backups.restore import RestoreRefused, restore_backup
from orbitflow.backups.write import BackupFailed, write_backup

__all__ = ["BackupFailed", "BackupHeader", "RestoreRefused", "read_header", "restore_backup", "write_backup"]
