# Sourced by run.sh and test.sh: installs what the project needs on first use, then sets $PY.
#   Java 17 and Maven (apt-get, when root) for the local Neo4j;
#   a Python 3.11 virtualenv with the pinned packages (re-synced only when a requirements file changes).
# RETRIEVAL_VENV chooses where the virtualenv lives (default: .venv in the project).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${RETRIEVAL_VENV:-$ROOT/.venv}
REQUIREMENTS=$1

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing ${missing[*]} with apt-get ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "The local Neo4j needs ${missing[*]}: install them (sudo apt-get install ${missing[*]}), or set NEO4J_URI to your own Neo4j." >&2
    [ -n "${NEO4J_URI:-}" ] || exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  PYTHON=$(command -v python3.11 || command -v python3)
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed." >&2; exit 1; }
  echo "Creating a virtualenv in $VENV ..." >&2
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(basename "$REQUIREMENTS" .txt)-$(cat "$ROOT"/requirements*.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing Python packages from $REQUIREMENTS (torch is large; pip keeps it in its cache) ..." >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/$REQUIREMENTS"
  rm -f "$VENV"/.installed-"$(basename "$REQUIREMENTS" .txt)"-*
  touch "$stamp"
fi
PY="$VENV/bin/python"
