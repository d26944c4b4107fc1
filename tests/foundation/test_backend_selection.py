"""``--backend`` selects one backend, and ``mariadb_only`` means MariaDB only: checked by
running pytest on a small test file, and on the suite's own MariaDB tests."""

from __future__ import annotations

import subprocess

import pytest

from foundation.helpers import ROOT, VENV_BIN, base_env, free_port

TESTS = ROOT / "tests"
SAMPLE = """
import pytest

def test_no_database():
    pass

def test_each_backend(backend_name):
    pass

@pytest.mark.mariadb_only
def test_marked_with_a_backend(backend_name):
    pass

@pytest.mark.mariadb_only
def test_marked_alone():
    pass
"""


def suite_pytest(tmp_path, *args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    """pytest on the suite's own files, in a process with an environment of its own."""
    return subprocess.run(
        [str(VENV_BIN / "pytest"), "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=base_env(tmp_path, **env_extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_with_the_suites_conftest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest on pytester's files, with a copy of the suite's conftest.py beside them."""
    pytester.syspathinsert(TESTS)  # for the modules it imports (support.py)
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    return pytester.runpytest_inprocess("-c", str(ROOT / "pyproject.toml"), "--rootdir", str(pytester.path), *args)


def collected(pytester: pytest.Pytester, *args: str) -> set[str]:
    """The tests pytest collects from the sample file."""
    pytester.makepyfile(test_sample=SAMPLE)
    result = run_with_the_suites_conftest(pytester, "--collect-only", "-q", *args)
    assert result.ret in (0, 5), result.stdout.str()
    return {line.split("::", 1)[1] for line in result.outlines if "::" in line}


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (
            "all",
            {
                "test_no_database",
                "test_each_backend[sqlite]",
                "test_each_backend[mariadb]",
                "test_marked_with_a_backend[mariadb]",
                "test_marked_alone",
            },
        ),
        ("sqlite", {"test_no_database", "test_each_backend[sqlite]"}),
        (
            "mariadb",
            {
                "test_no_database",
                "test_each_backend[mariadb]",
                "test_marked_with_a_backend[mariadb]",
                "test_marked_alone",
            },
        ),
    ],
)
def test_backend_option_and_marker_select_what_they_name(pytester, option, expected):
    assert collected(pytester, f"--backend={option}") == expected


def test_a_test_using_the_mariadb_server_unmarked_stops_collection(pytester):
    pytester.makepyfile(test_direct="def test_direct(mariadb_admin):\n    pass\n")
    result = run_with_the_suites_conftest(pytester, "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*use the MariaDB server directly; mark them mariadb_only*", "*test_direct.py::test_direct"]
    )


@pytest.mark.slow
def test_a_sqlite_run_never_connects_to_mariadb(tmp_path):
    """The suite's MariaDB tests are not run, and an unreachable MariaDB that CI counts as
    a failure goes unnoticed: nothing asked for it."""
    nowhere = {"ORBITFLOW_TEST_MARIADB": f"mysql://root@127.0.0.1:{free_port()}", "ORBITFLOW_REQUIRE_MARIADB": "1"}
    paths = ["foundation/test_database_resilience.py", "accounts/test_concurrency.py", "test_health.py"]
    result = suite_pytest(tmp_path, "-rA", "--backend=sqlite", *[str(TESTS / p) for p in paths], env_extra=nowhere)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if line.startswith("PASSED ")]
    assert passed and all("tests/test_health.py::" in line and "[sqlite]" in line for line in passed), passed
    assert "SKIPPED" not in result.stdout and "mariadb" not in result.stdout.lower()
