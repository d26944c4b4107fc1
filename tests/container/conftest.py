"""The production image, built once per test run with podman from the local Debian base.

Skipped when podman or the base image is missing (run ../shared/tools/oci-setup.sh, as
.ci/run does); ORBITFLOW_REQUIRE_CONTAINER=1 (CI) makes that a failure. Layers are cached
by podman, so a run after a code change rebuilds only the last steps."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from foundation.helpers import ROOT

BASE_IMAGE = os.environ.get("ORBITFLOW_TEST_BASE_IMAGE", "localhost/debian:bookworm-slim")
APP_IMAGE = "localhost/orbitflow:test"
MARIADB_IMAGE = "localhost/orbitflow-test-mariadb:latest"
REQUIRE_CONTAINER = os.environ.get("ORBITFLOW_REQUIRE_CONTAINER") == "1"


def podman(*args: str, timeout: float = 120, check: bool = True, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {result.stderr[-3000:]}")
    return result


def build(tag: str, context, *extra: str) -> None:
    env = {**os.environ, "BUILDAH_FORMAT": "docker"}
    result = subprocess.run(
        ["podman", "build", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", tag, *extra, str(context)],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _podman_ready() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed"
    if subprocess.run(["podman", "image", "exists", BASE_IMAGE], capture_output=True).returncode != 0:
        return f"the base image {BASE_IMAGE} is missing"
    return None


@pytest.fixture(scope="session")
def app_image() -> str:
    problem = _podman_ready()
    if problem:
        message = f"{problem}: run tools/oci-setup.sh of the shared tools (as .ci/run does)"
        if REQUIRE_CONTAINER:
            pytest.fail(message + " (ORBITFLOW_REQUIRE_CONTAINER=1)")
        pytest.skip(message)
    build(APP_IMAGE, ROOT)
    return APP_IMAGE


@pytest.fixture(scope="session")
def mariadb_image(app_image) -> str:
    build(MARIADB_IMAGE, ROOT / "tests" / "container" / "mariadb")
    return MARIADB_IMAGE
