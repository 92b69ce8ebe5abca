"""Which Neo4j to use, and a driver to it that fails with a message a user can act on.

With NEO4J_URI set (environment, or `.streamlit/secrets.toml`), that server is used whatever
its scheme (bolt, neo4j, +s, +ssc) and nothing is started. Otherwise it is the project's local
server, started with `python -m retrieval db start`. `load_settings` is the one place that
decides, so every command and the app talk to the same server.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from neo4j import Driver, GraphDatabase
from neo4j.exceptions import AuthError, ConfigurationError, ServiceUnavailable

from retrieval.core.errors import Neo4jUnavailable, RetrievalError
from retrieval.neo4j.server import DEFAULT_PORT, START_COMMAND, LocalNeo4j

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRETS_FILE = PROJECT_DIR / ".streamlit" / "secrets.toml"
SECRETS_FILE_ENV = "RETRIEVAL_SECRETS_FILE"  # another secrets.toml than the project's (tests use it)
KEYS = ("NEO4J_URI", "NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE", "NEO4J_LOCAL_PORT", "NEO4J_LOCAL_HOME")


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str
    username: str
    password: str
    database: str | None
    local: LocalNeo4j | None  # the project's own server, when no NEO4J_URI was given

    def hint(self) -> str:
        if self.local:
            return f"Start the local Neo4j with `{START_COMMAND}`."
        return "Check that this server is running and reachable, and the NEO4J_* settings."


def load_settings(env: Mapping[str, str] | None = None, secrets_file: Path | None = None) -> Neo4jSettings:
    """Settings from the environment, falling back key by key to `.streamlit/secrets.toml` (or the
    file RETRIEVAL_SECRETS_FILE names)."""
    env = os.environ if env is None else env
    values = _read_secrets(secrets_file or Path(env.get(SECRETS_FILE_ENV) or SECRETS_FILE))
    values.update({k: v for k, v in env.items() if k in KEYS and v})
    if values.get("NEO4J_URI"):
        return Neo4jSettings(
            uri=values["NEO4J_URI"],
            username=values.get("NEO4J_USERNAME", "neo4j"),
            password=values.get("NEO4J_PASSWORD", ""),
            database=values.get("NEO4J_DATABASE"),
            local=None,
        )
    local = local_server(values)
    return Neo4jSettings(uri=local.uri, username="neo4j", password=local.password(), database=None, local=local)


def local_server(values: Mapping[str, str]) -> LocalNeo4j:
    """The user's local server: home `.neo4j/default` in the project and port 7687 unless
    NEO4J_LOCAL_HOME and NEO4J_LOCAL_PORT in `values` say otherwise."""
    home = Path(values.get("NEO4J_LOCAL_HOME") or PROJECT_DIR / ".neo4j" / "default")
    if home.exists() and not home.is_dir():
        raise RetrievalError(f"NEO4J_LOCAL_HOME must be a folder (the local server's home), and {home} is not one.")
    text = values.get("NEO4J_LOCAL_PORT") or str(DEFAULT_PORT)
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise RetrievalError(f"NEO4J_LOCAL_PORT must be a port number from 1 to 65535, not {text[:40]!r}.")
    return LocalNeo4j(home=home.absolute(), port=port)


def open_driver(settings: Neo4jSettings) -> Driver:
    """A driver whose connectivity and credentials are already checked; the caller closes it."""
    try:
        # Schema notifications (e.g. "property does not exist yet" on an empty store) are noise here.
        driver = GraphDatabase.driver(settings.uri, auth=(settings.username, settings.password), notifications_min_severity="OFF")
    except (ConfigurationError, ValueError) as e:
        raise Neo4jUnavailable(settings.uri, f"the URI is not valid ({e})", settings.hint()) from e
    try:
        driver.verify_connectivity()
    except AuthError as e:
        driver.close()
        raise Neo4jUnavailable(settings.uri, "the username or password was rejected", settings.hint()) from e
    except (ServiceUnavailable, OSError) as e:
        driver.close()
        raise Neo4jUnavailable(settings.uri, "the server is not reachable", settings.hint()) from e
    return driver


def _read_secrets(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    if not path.is_file():  # a FIFO would block the read, a device never end it
        raise RetrievalError(f"{path} must be a TOML file of NEO4J_* settings, and it is not a regular file.")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RetrievalError(f"{path} is not valid TOML: {' '.join(str(e).split())}") from e
    except OSError as e:
        raise RetrievalError(f"Cannot read {path}: {e.strerror or e}") from e
    return {k: str(v) for k, v in data.items() if k in KEYS}
