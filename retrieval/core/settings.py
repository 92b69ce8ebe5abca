"""Every setting of the library, read once where a program starts (the CLI's `main`, the app, the
tests) and passed down: the environment first, then `.streamlit/secrets.toml` in the working
directory (or the file RETRIEVAL_SECRETS_FILE names), key by key. Nothing below reads the
environment, so what a function does depends only on what it is given."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from retrieval.core.errors import RetrievalError

SECRETS_FILE = Path(".streamlit") / "secrets.toml"
SECRETS_FILE_ENV = "RETRIEVAL_SECRETS_FILE"  # another secrets.toml than the working directory's (tests use it)
MODEL_ENV = "RETRIEVAL_MODEL"
RESNET50_WEIGHTS_ENV = "RETRIEVAL_RESNET50_WEIGHTS"
RUNTIME_ENV = "RETRIEVAL_RUNTIME"
PRECISION_ENV = "RETRIEVAL_PRECISION"
PASSWORD_KEY = "RETRIEVAL_ADMIN_PASSWORD"
REQUIRE_LOGIN_KEY = "RETRIEVAL_REQUIRE_LOGIN"
ROOTS_KEY = "RETRIEVAL_INDEX_ROOTS"
PROXIES_KEY = "RETRIEVAL_TRUSTED_PROXIES"
SERVER_PROXIES_ENV = "FORWARDED_ALLOW_IPS"  # the peers whose X-Forwarded-For Streamlit's server (uvicorn) takes
NEO4J_KEYS = (
    "NEO4J_URI",
    "NEO4J_USERNAME",
    "NEO4J_PASSWORD",
    "NEO4J_DATABASE",
    "NEO4J_LOCAL_PORT",
    "NEO4J_LOCAL_HOME",
    "NEO4J_RETRY_SECONDS",
)
APP_KEYS = (PASSWORD_KEY, REQUIRE_LOGIN_KEY, ROOTS_KEY, PROXIES_KEY)
KEYS = (*NEO4J_KEYS, MODEL_ENV, RESNET50_WEIGHTS_ENV, RUNTIME_ENV, PRECISION_ENV, *APP_KEYS)


@dataclass(frozen=True)
class Settings:
    """What the user set, as given (checked where used, so a bad value's message names its use).
    The defaults are a program started with nothing set, in the current directory."""

    neo4j_uri: str | None = None
    neo4j_username: str | None = None
    neo4j_password: str | None = None
    neo4j_database: str | None = None
    local_port: str | None = None  # of the project's own server (NEO4J_LOCAL_PORT)
    local_home: str | None = None  # its home folder (NEO4J_LOCAL_HOME)
    retry_seconds: str | None = None  # how long a transaction that failed for a passing reason is retried (NEO4J_RETRY_SECONDS)
    model: str | None = None  # RETRIEVAL_MODEL
    resnet50_weights: Path | None = None  # a local ResNet50 weights file (RETRIEVAL_RESNET50_WEIGHTS)
    runtime: str | None = None  # openvino or torch (RETRIEVAL_RUNTIME)
    precision: str | None = None  # f32 or bf16 for OpenVINO (RETRIEVAL_PRECISION); None: bf16 where the CPU has it
    admin_password: str | None = None  # the app's admin password (RETRIEVAL_ADMIN_PASSWORD)
    require_login: bool = False  # the app asks for it even on localhost (RETRIEVAL_REQUIRE_LOGIN)
    index_roots: str | None = None  # folders the app may index, separated by os.pathsep (RETRIEVAL_INDEX_ROOTS)
    trusted_proxies: str | None = None  # proxies whose X-Forwarded-For names the visitor (RETRIEVAL_TRUSTED_PROXIES)
    server_proxies: str | None = None  # FORWARDED_ALLOW_IPS, read by uvicorn from the environment; None: its default
    project: Path = Path()  # the working directory: `.neo4j/default` is the local server's home there
    cache_home: Path | None = None  # XDG_CACHE_HOME; None: ~/.cache
    torch_home: Path | None = None  # TORCH_HOME, where torch keeps downloaded weights; None: the cache home's torch

    @property
    def openvino_cache(self) -> Path:
        """Where converted networks are kept (see retrieval/vision/runtime.py)."""
        return (self.cache_home or Path.home() / ".cache") / "neo4j-image-retrieval" / "openvino"


def load_settings(env: Mapping[str, str], cwd: Path, secrets_file: Path | None = None) -> Settings:
    """Settings from `env` (the program's environment), falling back key by key to the secrets file:
    `secrets_file`, else the one RETRIEVAL_SECRETS_FILE names, else `.streamlit/secrets.toml` in `cwd`."""
    path = secrets_file or Path(env.get(SECRETS_FILE_ENV) or cwd / SECRETS_FILE)
    values = read_secrets(path)
    values.update({k: v for k, v in env.items() if k in KEYS and v})
    weights = values.get(RESNET50_WEIGHTS_ENV)
    return Settings(
        neo4j_uri=values.get("NEO4J_URI"),
        neo4j_username=values.get("NEO4J_USERNAME"),
        neo4j_password=values.get("NEO4J_PASSWORD"),
        neo4j_database=values.get("NEO4J_DATABASE"),
        local_port=values.get("NEO4J_LOCAL_PORT"),
        local_home=values.get("NEO4J_LOCAL_HOME"),
        retry_seconds=values.get("NEO4J_RETRY_SECONDS"),
        model=values.get(MODEL_ENV),
        resnet50_weights=Path(weights) if weights else None,
        runtime=values.get(RUNTIME_ENV),
        precision=values.get(PRECISION_ENV),
        admin_password=values.get(PASSWORD_KEY),
        require_login=values.get(REQUIRE_LOGIN_KEY, "").lower() in ("1", "true", "yes"),
        index_roots=values.get(ROOTS_KEY),
        trusted_proxies=values.get(PROXIES_KEY),
        server_proxies=env.get(SERVER_PROXIES_ENV),
        project=cwd,
        cache_home=Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else None,
        torch_home=Path(env["TORCH_HOME"]) if env.get("TORCH_HOME") else None,
    )


def read_secrets(path: Path) -> dict[str, str]:
    """The settings of a secrets.toml (other keys, such as Streamlit's own, are left out); none if it is absent."""
    if not path.exists():
        return {}
    if not path.is_file():  # a FIFO would block the read, a device never end it
        raise RetrievalError(f"{path} must be a TOML file of settings, and it is not a regular file.")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RetrievalError(f"{path} is not valid TOML: {' '.join(str(e).split())}") from e
    except OSError as e:
        raise RetrievalError(f"Cannot read {path}: {e.strerror or e}") from e
    return {k: str(v) for k, v in data.items() if k in KEYS and str(v)}
