#!/usr/bin/env bash
# Runs pytest with the given arguments and fails when pytest fails, and also when no test
# ran at all: none collected (pytest's exit code 5) or every one of them skipped.
set -uo pipefail

PYTEST=${PYTEST:-.venv/bin/pytest}
PYTHON=${PYTHON_FOR_REPORT:-$(dirname "$PYTEST")/python}
report=$(mktemp "${TMPDIR:-/tmp}/orbitflow-junit.XXXXXX.xml")
trap 'rm -f "$report"' EXIT

"$PYTEST" --junitxml="$report" "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "!!! pytest collected no tests: counted as a failure" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  exit "$status"
fi
ran=$("$PYTHON" - "$report" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
print(sum(int(s.get("tests", 0)) - int(s.get("skipped", 0)) for s in suites))
PY
)
if [ "${ran:-0}" -le 0 ]; then
  echo "!!! every test was skipped: counted as a failure" >&2
  exit 1
fi
echo "tests run: $ran"
exit 0
