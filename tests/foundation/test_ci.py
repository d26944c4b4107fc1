"""The test command fails when tests fail and when no test ran (none collected or all
skipped); ``make test`` and ``.ci/run`` go through it."""

from __future__ import annotations

import subprocess

import pytest

from foundation.helpers import ROOT, VENV_BIN, base_env, run

RUN_TESTS = ROOT / "tools" / "run-tests.sh"
SUITES = {
    "passing": ("def test_ok():\n    assert True\n", 0, "tests run: 1"),
    "failing": ("def test_broken():\n    assert 1 == 2\n", 1, "1 failed"),
    "empty": ("# no tests here\n", 1, "pytest collected no tests: counted as a failure"),
    "all skipped": (
        "import pytest\n\n\n@pytest.mark.skip(reason='nothing')\ndef test_skipped():\n    pass\n",
        1,
        "every test was skipped: counted as a failure",
    ),
}


@pytest.mark.parametrize("suite", SUITES)
def test_run_tests_fails_unless_tests_ran_and_passed(suite, tmp_path):
    source, expected_status, message = SUITES[suite]
    (tmp_path / "test_suite.py").write_text(source)
    # The script's verdict does not depend on pytest's plugins; without them each run starts in
    # a fraction of the time.
    env = base_env(tmp_path, PYTEST=str(VENV_BIN / "pytest"), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    result = run(["bash", RUN_TESTS, "-p", "no:cacheprovider", str(tmp_path)], env, cwd=tmp_path)
    assert result.returncode == expected_status, result.stdout + result.stderr
    assert message in result.stdout + result.stderr


def test_make_test_and_ci_use_it():
    dry_run = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "tools/run-tests.sh" in dry_run
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert "make test" in ci
