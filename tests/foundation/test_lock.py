"""requirements.lock (what the image installs) pins every requirement of setup.cfg at a
version setup.cfg allows, so that the lock cannot drift from the declared dependencies."""

from __future__ import annotations

import configparser
import re

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from foundation.helpers import ROOT

# The extras the image installs (Makefile, lock: --extra mariadb --extra redis).
IMAGE_EXTRAS = ("mariadb", "redis")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.MULTILINE)


def declared_requirements() -> list[Requirement]:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    blocks = [setup["options"]["install_requires"]]
    blocks += [setup["options.extras_require"][extra] for extra in IMAGE_EXTRAS]
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith("#")]


def locked_versions(text: str) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def unsatisfied(requirements: list[Requirement], locked: dict[str, str]) -> list[str]:
    problems = []
    for requirement in requirements:
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement} is not in requirements.lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"requirements.lock pins {requirement.name}=={version}, setup.cfg wants {requirement}")
    return problems


def test_lock_pins_every_declared_requirement_at_an_allowed_version():
    requirements = declared_requirements()
    assert {"pyramid", "sqlalchemy", "mariadb", "redis"} <= {canonicalize_name(r.name) for r in requirements}
    problems = unsatisfied(requirements, locked_versions((ROOT / "requirements.lock").read_text()))
    assert not problems, "run `make lock`: " + "; ".join(problems)


def test_the_check_sees_a_missing_or_outdated_pin():
    # The check itself can fail: a lock without one package, and one with a version outside a specifier.
    locked = locked_versions((ROOT / "requirements.lock").read_text())
    requirements = [Requirement("pyramid ~= 2.0"), Requirement("mariadb == 1.1.12")]
    assert unsatisfied(requirements, {**locked, "pyramid": "1.10.8"}) == [
        "requirements.lock pins pyramid==1.10.8, setup.cfg wants pyramid~=2.0"
    ]
    without = {name: version for name, version in locked.items() if name != "mariadb"}
    assert unsatisfied(requirements, without) == ["mariadb==1.1.12 is not in requirements.lock"]
