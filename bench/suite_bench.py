"""Wall time of the test suite: the same tests, before (the suite as it was, one process,
full-cost password hashing) and after (this tree's test options: pytest-xdist, one worker
per core, cheap hashing under test), on this machine, one after the other.

"The same tests" are the test ids both trees collect, plus every test of the files this
tree added for the suite itself (isolation, permissions, CSRF, migrations, bad input):
new features' tests are left out, so the two runs do the same work. Each run is timed
from the start of pytest to its end; the verdict is after/before (target: at most 0.5).

    .venv/bin/python bench/suite_bench.py --before-tree /path/to/checkout   # it has its own .venv
    .venv/bin/python bench/suite_bench.py --before-tree ... --coverage       # after with coverage, as make test

The before tree must be a checkout of the commit to compare with (default c210fb4, the
suite of 1,085 tests that took 234 s), with its test extras installed in its own .venv
(`make .venv/.installed-test` there).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_RATIO = 0.5
# Test files added for the suite itself (issue: "gaps a multi-tenant CRM cannot have").
SUITE_FILES = [
    "tests/accounts/test_csrf.py",
    "tests/accounts/test_password_hashing.py",
    "tests/foundation/test_backend_selection.py",
    "tests/foundation/test_migrations.py",
    "tests/leads/test_leads_bad_input.py",
    "tests/leads/test_leads_positions.py",
    "tests/leads/test_leads_tenancy.py",
    "tests/test_role_actions.py",
    "tests/quiz/test_definition_bad_input.py",
]


def collect(tree: Path) -> list[str]:
    result = subprocess.run(
        [str(tree / ".venv/bin/pytest"), "-p", "no:cacheprovider", "--collect-only", "-q"],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    return [line for line in result.stdout.splitlines() if "::" in line and not line.startswith(" ")]


def timed_run(tree: Path, arguments: list[str]) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [str(tree / ".venv/bin/pytest"), "-p", "no:cacheprovider", "-q", *arguments],
        cwd=tree,
        capture_output=True,
        text=True,
        env={**os.environ, "COVERAGE_FILE": str(tree / ".coverage")},
    )
    elapsed = time.monotonic() - started
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-500:]
    return elapsed, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-tree", type=Path, required=True, help="checkout of the commit before, with its .venv")
    parser.add_argument("--coverage", action="store_true", help="after with coverage, as make test")
    parser.add_argument("--workers", default="auto", help="pytest-xdist workers after (-n; default auto, as make test)")
    parser.add_argument("--skip-before", type=float, metavar="SECONDS", help="reuse a before time measured earlier")
    args = parser.parse_args(argv)
    before_tree = args.before_tree.resolve()

    before_ids = collect(before_tree)
    after_ids = collect(ROOT)
    added = [name for name in SUITE_FILES if (ROOT / name).exists()]
    same = sorted(set(before_ids) & set(after_ids))
    selection = same + [test for test in after_ids if test.split("::")[0] in added and test not in set(same)]
    print(f"before: {len(before_ids)} tests collected; after: {len(after_ids)} collected")
    print(f"same tests: {len(same)}, plus {len(selection) - len(same)} of its own new files: {len(selection)}")

    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if args.skip_before is None:
        before_seconds, before_summary = timed_run(before_tree, [])
        print(f"before: {before_seconds:7.1f} s   {before_summary}")
    else:
        before_seconds = args.skip_before
        print(f"before: {before_seconds:7.1f} s   (measured earlier)")

    options = ["-n", args.workers, "--dist", "loadfile"]
    if args.coverage:
        options += ["--cov", "--cov-report="]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as ids:
        ids.write("\n".join(selection))
    # pytest reads arguments from a file named with @.
    after_seconds, after_summary = timed_run(ROOT, [*options, f"@{ids.name}"])
    os.unlink(ids.name)
    print(f"after:  {after_seconds:7.1f} s   {after_summary}")
    ratio = after_seconds / before_seconds
    verdict = "ok" if ratio <= MAX_RATIO else "SLOWER than the target"
    print(f"after/before: {ratio:.3f}  (target <= {MAX_RATIO}: {verdict})")
    return 0 if ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
