#!/usr/bin/env bash
# Run the checks: install what is missing, then ruff, mypy (strict, on retrieval/, app/ and streamlit_app.py) and the test suite (which starts its own
# Neo4j on a free port with its own data, so a user's database is never touched).
# Extra arguments go to pytest, e.g. ./test.sh -k bench_quality; --quick runs the quick tier only (pytest -m quick:
# the tests that need no Neo4j and no browser, a minute or so; see the README's Tests section). Tests run in a
# process per CPU (pytest-xdist's -n auto) unless told otherwise: -n 0 runs them in this one (for --pdb, or -s),
# and a benchmark (bench/...) always runs alone, as it times things.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh requirements-dev.txt
# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
install_missing chromium:chromium
"$PY" -m ruff check .
"$PY" -m ruff format --check .
"$PY" -m mypy
args=() workers=(-n auto)
for arg in "$@"; do
  case $arg in
    --quick) args+=(-m quick) ;;
    -n | -n* | --numprocesses | --numprocesses=* | bench | bench/*) workers=() args+=("$arg") ;;
    *) args+=("$arg") ;;
  esac
done
exec "$PY" -m pytest "${workers[@]}" "${args[@]}"
