#!/usr/bin/env bash
# Refresh the README's screenshots (docs/screenshots/*.png) from the browser tests, on purpose:
# a normal test run writes them to a temporary folder instead.
set -euo pipefail
cd "$(dirname "$0")/.."
RETRIEVAL_SCREENSHOTS="$PWD/docs/screenshots" exec ./test.sh tests/test_app_browser.py tests/test_app_browser_query.py tests/test_app_browser_catalogue.py tests/test_duplicates_resolving_browser.py "$@"
