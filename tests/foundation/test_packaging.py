"""Packaging: every package is listed, the wheel holds templates, static files and every
migration, and a wheel installed into a new venv (not editable) initialises SQLite and
MariaDB databases and serves ``/api/health``."""

from __future__ import annotations

import configparser
import importlib
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from foundation.helpers import ROOT, TEST_SECRET, free_port, nonblank_lines, start_server, stop, wait_for_http

SKIPPED_DIRS = {"__pycache__"}
ADMIN_PASSWORD = "Wheel-Install-Pass-1"
UV = Path(sys.executable).parent / "uv"


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def listed_packages() -> set[str]:
    return set(setup_cfg()["options"]["packages"].split())


def package_dirs() -> dict[str, Path]:
    """Every folder holding Python code under src/ and alembic/, by its package name."""
    found = {}
    roots = [(ROOT / "src", ""), (ROOT / "alembic", "orbitflow.alembic")]
    for root, prefix in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
            path = Path(folder)
            if path.is_symlink() or not any(name.endswith(".py") for name in files):
                continue
            relative = path.relative_to(root).parts
            name = ".".join(filter(None, [prefix, *relative]))
            if name:
                found[name] = path
    return found


def test_every_package_directory_is_listed_in_setup_cfg():
    folders = package_dirs()
    missing = sorted(set(folders) - listed_packages())
    assert not missing, f"add to setup.cfg [options] packages: {missing}"
    without_init = sorted(name for name, path in folders.items() if not (path / "__init__.py").exists())
    assert not without_init, f"packages without __init__.py: {without_init}"


def test_every_listed_package_exists():
    assert sorted(listed_packages() - set(package_dirs())) == []


def test_console_scripts_and_entry_points_resolve():
    entry_points = setup_cfg()["options.entry_points"]
    for group in ("console_scripts", "paste.app_factory", "paste.server_factory", "orbitflow.plugins"):
        for line in filter(None, entry_points[group].splitlines()):
            name, value = (part.strip() for part in line.split("=", 1))
            loaded = EntryPoint(name, value, group).load()
            assert callable(loaded) or isinstance(loaded, type(importlib)), f"{group} {name} = {value}"


# The wheel.


def checkout_copy(destination: Path) -> Path:
    """The checkout's files as git sees them (tracked and new, not ignored), so the build
    does not write into the shared checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        source = ROOT / raw.decode()
        if source.is_symlink() or not source.is_file():
            continue
        target = destination / raw.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = checkout_copy(tmp_path_factory.mktemp("checkout"))
    out = tmp_path_factory.mktemp("dist")
    # uv runs the same PEP 517 build as `python -m build` (setuptools, isolated), from its cache.
    subprocess.run(
        [UV, "build", "--wheel", "--out-dir", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
        env=uv_env(),
    )
    [built] = out.glob("orbitflow-*.whl")
    return built


def shipped_files() -> set[str]:
    """What must be in the wheel: every file of the packages (code, templates, static
    files, migrations), by its path inside the wheel."""
    expected = set()
    for name, folder in package_dirs().items():
        inside = Path(*name.split("."))
        for path in folder.rglob("*"):
            if not path.is_file() or SKIPPED_DIRS & set(path.parts) or path.suffix == ".pyc":
                continue
            relative = path.relative_to(folder)
            if relative.parts and relative.parts[0] in SKIPPED_DIRS:
                continue
            # Sub-packages are listed on their own; templates/static folders are data.
            if len(relative.parts) > 1 and ".".join([name, *relative.parts[:-1]]) in package_dirs():
                continue
            if path.name.startswith("."):
                continue
            expected.add(str(inside / relative))
    return expected


@pytest.mark.slow
def test_wheel_contains_templates_static_files_and_every_migration(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(shipped_files() - names)
    assert not missing, f"missing from the wheel: {missing}"
    assert "orbitflow/alembic/env.py" in names
    assert "orbitflow/alembic/script.py.mako" in names
    assert any(n.startswith("orbitflow/alembic/versions/0001") for n in names)
    assert any(n.startswith("orbitflow_plugins/quiz/migrations/versions/q0001") for n in names)
    assert "orbitflow/web/templates/layout.jinja2" in names
    assert "orbitflow/web/static/css/app.css" in names
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for line in ("initializedb = orbitflow.scripts.initializedb:main", "quiz = orbitflow_plugins.quiz"):
        assert line in text


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A new venv with the wheel and its MariaDB extra, its dependencies resolved from the
    package index as an operator's `pip install` would (uv: the same resolution, seconds
    instead of a minute from its cache)."""
    venv = tmp_path_factory.mktemp("venv")
    env = uv_env()
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=300, env=env)
    install = subprocess.run(
        [UV, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), f"{wheel}[mariadb]"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert install.returncode == 0, install.stderr
    return venv / "bin"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """Nothing of the checkout: no PYTHONPATH, no OrbitFlow variables."""
    env = {key: value for key, value in os.environ.items() if key.startswith(("PIP_", "UV_", "LANG", "LC_"))}
    env.update(PATH="/usr/local/bin:/usr/bin:/bin", HOME=str(home), **extra)
    return env


def uv_env() -> dict[str, str]:
    """uv with the machine's certificate store (as pip uses it), for an index behind a TLS proxy."""
    certificates = os.environ.get("SSL_CERT_FILE") or os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
    return clean_env(Path.home(), SSL_CERT_FILE=certificates)


def production_env(home: Path, url: str, port: int) -> dict[str, str]:
    return clean_env(
        home,
        DATABASE_URL=url,
        AUTH_SECRET=TEST_SECRET,
        AUTH_URL=f"http://localhost:{port}",
        PORT=str(port),
    )


@pytest.mark.slow
def test_the_installed_code_is_the_wheel_not_the_checkout(installed, tmp_path):
    where = subprocess.run(
        [installed / "python", "-c", "import orbitflow, orbitflow.alembic; print(orbitflow.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(tmp_path),
        check=True,
    ).stdout.strip()
    assert where.startswith(str(installed.parent)), where
    assert "site-packages" in where


@pytest.mark.slow
def test_installed_wheel_initialises_a_database_and_serves_health(installed, backend_name, tmp_path, request):
    if backend_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'installed.sqlite'}"
    else:
        url = request.getfixturevalue("new_mariadb_database")()
    port = free_port()
    env = production_env(tmp_path, url, port)
    ini = tmp_path / "production.ini"
    shutil.copy(ROOT / "production.ini", ini)  # what an operator copies next to the venv

    init = subprocess.run(
        [installed / "initializedb", ini, "--username", "admin", "--password", ADMIN_PASSWORD],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert init.returncode == 0, init.stderr
    assert "Created super admin 'admin'." in init.stdout
    assert ADMIN_PASSWORD not in init.stdout + init.stderr

    server = start_server([installed / "pserve", ini], env, tmp_path)
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/api/health", server)
        assert status == 200, body
        import json

        health = json.loads(body)
        assert (health["status"], health["database"], health["migrations"]) == ("ok", "ok", "current")
        status, page = wait_for_http(f"http://127.0.0.1:{port}/login", server)
        assert status == 200
        assert b'name="subscription_id"' in page
        status, css = wait_for_http(f"http://127.0.0.1:{port}/static/css/app.css", server)
        assert status == 200 and css
    finally:
        output = stop(server)
    assert f"Server listening on port {port}" in output and "Starting gunicorn" in output
    assert TEST_SECRET not in output
    assert not [line for line in nonblank_lines(output) if "Traceback" in line]
