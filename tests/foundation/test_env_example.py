""".env.example names every environment variable the code reads, and nothing else; after
it, a separate compose-only part names the variables only docker-compose.yml reads."""

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
# config.py's list form: [(name, env.get(name)) for name in ("NAME", "ALIAS")].
EACH_OF = re.compile(r"\(\s*(\w+)\s*,\s*env\.get\(\1\)\s*\)\s+for\s+\1\s+in\s+\(([^)]*)\)")
# The container's entry point reads its own switches.
SHELL_READ = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
# An assignment in .env.example, commented out or not.
EXAMPLE_NAME = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
# The heading of .env.example's compose-only part.
COMPOSE_ONLY = "# ---- Compose only"
# docker-compose.yml's interpolations: ${NAME}, ${NAME:-default}, ${NAME:?message}.
COMPOSE_READ = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")


def names_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        text = path.read_text()
        for match in DIRECT_READ.finditer(text):
            names.add(match.group(1) or match.group(2))
        for match in FIRST_OF.finditer(text):
            names.update(QUOTED.findall(match.group(1)))
        for match in EACH_OF.finditer(text):
            names.update(QUOTED.findall(match.group(2)))
    for path in (ROOT / "deploy").glob("*.sh"):
        names.update(SHELL_READ.findall(path.read_text()))
    return names


def example_parts() -> tuple[str, str]:
    """.env.example's app part and its compose-only part."""
    text = (ROOT / ".env.example").read_text()
    assert text.count(COMPOSE_ONLY) == 1, f".env.example needs one {COMPOSE_ONLY!r} heading"
    app, compose = text.split(COMPOSE_ONLY)
    return app, compose


def names_in_the_example() -> set[str]:
    return set(EXAMPLE_NAME.findall(example_parts()[0]))


def names_read_by_compose() -> set[str]:
    return set(COMPOSE_READ.findall((ROOT / "docker-compose.yml").read_text()))


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


def test_env_example_has_a_compose_only_part_with_exactly_what_only_compose_reads():
    assert {"DB_PASSWORD", "APP_BIND", "AUTH_SECRET"} <= names_read_by_compose()
    compose_only = set(EXAMPLE_NAME.findall(example_parts()[1]))
    expected = names_read_by_compose() - names_read_by_the_code()
    assert compose_only == expected, (
        f"the compose-only part of .env.example lacks {sorted(expected - compose_only)} "
        f"and names {sorted(compose_only - expected)} that compose does not read or the app reads"
    )
    assert names_read_by_compose() <= names_in_the_example() | compose_only
