#!/usr/bin/env bash
# Run the app: install what is missing, start the local Neo4j (unless NEO4J_URI is set),
# index the demo photos if the database is empty, and open the Streamlit app.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh requirements.txt
"$VENV/bin/retrieval" db start
"$VENV/bin/retrieval" index images --if-empty
exec "$PY" -m streamlit run streamlit_app.py "$@"
