#!/usr/bin/env bash
# Run the checks: install what is missing, then ruff, mypy (strict, on retrieval/, app/ and streamlit_app.py) and the test suite (which starts its own
# Neo4j on a free port with its own data, so a user's database is never touched).
# Extra arguments go to pytest, e.g. ./test.sh -k bench_quality; --quick runs the quick tier only (pytest -m quick:
# the tests that need no Neo4j and no browser, a process per CPU, a minute or so; see the README's Tests section);
# -n auto runs everything in a process per CPU.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh requirements-dev.txt
# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
install_missing chromium:chromium
"$PY" -m ruff check .
"$PY" -m ruff format --check .
"$PY" -m mypy
args=()
for arg in "$@"; do
  if [[ $arg == --quick ]]; then args+=(-m quick -n auto); else args+=("$arg"); fi
done
exec "$PY" -m pytest "${args[@]}"
