# Sourced by run.sh and test.sh: installs what the project needs on first use, then sets $PY.
#   Java 17 and Maven (apt-get, when root) for the local Neo4j;
#   a Python 3.11 virtualenv with the pinned packages (re-synced only when a requirements file changes).
# RETRIEVAL_VENV chooses where the virtualenv lives (default: .venv in the project).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${RETRIEVAL_VENV:-$ROOT/.venv}
REQUIREMENTS=$1

# install_missing COMMAND:PACKAGE ...: apt-get installs the package of each missing command
# (as root), or says what to install.
install_missing() {
  local missing=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" = 0 ]; then
    echo "Installing ${missing[*]} with apt-get ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Please install ${missing[*]} (sudo apt-get install ${missing[*]})." >&2
    return 1
  fi
}

# Java 17 and Maven run the local Neo4j; not needed when NEO4J_URI points at your own server.
install_missing java:openjdk-17-jre-headless mvn:maven || [ -n "${NEO4J_URI:-}" ] || exit 1

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
# The project itself, editable and without dependencies (the lock above has them): the `retrieval`
# command, run from this checkout. Re-done only when the venv's copy points elsewhere.
if ! "$VENV/bin/python" -c 'import importlib.metadata as m, json, sys
url = json.loads(m.distribution("neo4j-image-retrieval").read_text("direct_url.json") or "{}").get("url", "")
sys.exit(url != sys.argv[1])' "file://$ROOT" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT"
fi
PY="$VENV/bin/python"
