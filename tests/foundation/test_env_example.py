""".env.example names every environment variable the code reads, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Reads of the process environment: os.environ / os.getenv, and the settings' ``env``
# mapping (config.py, server.py, logs.py take the environment under that name).
DIRECT_READ = re.compile(
    r'\b(?:os\.environ|env)(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]*)"|os\.getenv\(\s*"([A-Z][A-Z0-9_]*)"'
)
# config.py's table form: _first(env, "NAME", "ALIAS", ...).
FIRST_OF = re.compile(r"_first\(\s*env\s*,([^)]*)\)")
QUOTED = re.compile(r'"([A-Z][A-Z0-9_]*)"')
# The container's entry point reads its own switches.
SHELL_READ = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
# An assignment in .env.example, commented out or not.
EXAMPLE_NAME = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def names_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        text = path.read_text()
        for match in DIRECT_READ.finditer(text):
            names.add(match.group(1) or match.group(2))
        for match in FIRST_OF.finditer(text):
            names.update(QUOTED.findall(match.group(1)))
    for path in (ROOT / "deploy").glob("*.sh"):
        names.update(SHELL_READ.findall(path.read_text()))
    return names


def names_in_the_example() -> set[str]:
    return set(EXAMPLE_NAME.findall((ROOT / ".env.example").read_text()))


def test_the_scan_finds_the_reads_it_must_find():
    # The scan itself can fail: these are read in three different ways.
    assert {"DATABASE_URL", "NEXT_PUBLIC_FACEBOOK_PIXEL_ID", "PORT", "LOG_FORMAT", "MIGRATE_ON_START"} <= (
        names_read_by_the_code()
    )


def test_env_example_lists_every_variable_the_code_reads():
    missing = names_read_by_the_code() - names_in_the_example()
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_lists_nothing_the_code_does_not_read():
    unread = names_in_the_example() - names_read_by_the_code()
    assert not unread, f".env.example names variables nothing reads: {sorted(unread)}"
