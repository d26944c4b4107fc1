"""Every hook of hookspecs.py is implemented by a test's plugin and documented in docs/plugins.md."""

from __future__ import annotations

import inspect
import re

import pytest

from foundation.helpers import ROOT
from orbitflow import hookspecs

HOOKS = sorted(
    name for name, function in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(function, "orbitflow_spec")
)
THIS_FILE = __file__


def test_there_are_hooks():
    assert {"add_routes", "nav_items", "permissions", "migration_locations", "lead_created"} <= set(HOOKS)


@pytest.fixture(scope="module")
def tests_text() -> str:
    files = [path for path in (ROOT / "tests").rglob("*.py") if str(path) != THIS_FILE]
    return "\n".join(path.read_text() for path in files)


@pytest.fixture(scope="module")
def docs_headings() -> set[str]:
    text = (ROOT / "docs" / "plugins.md").read_text()
    return set(re.findall(r"^#+ `(\w+)\(", text, flags=re.MULTILINE))


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_have_tests(hook, tests_text):
    # A mention is not enough: some test's plugin must implement the hook (a @hookimpl
    # method or function of that name), so the app calls into a test through it.
    implemented = re.search(rf"@(?:\w+\.)?hookimpl\b[^\n]*\n\s*def {hook}\(", tests_text)
    assert implemented, f"no test implements the hook {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_plugin_hooks_are_documented(hook, docs_headings):
    assert hook in docs_headings, f"docs/plugins.md has no heading for the hook {hook}"


def test_documented_hooks_exist(docs_headings):
    assert docs_headings <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_specifications_have_docstrings(hook):
    assert (getattr(hookspecs, hook).__doc__ or "").strip()
