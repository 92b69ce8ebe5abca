"""Who may change the index from the app, and which folders it may index.

On localhost the app is the user's own: every control is open, any folder can be indexed. Served to
others (an address beyond loopback, or RETRIEVAL_REQUIRE_LOGIN=1) searching stays open, but the
controls that write (indexing, removing images) need the admin password, and indexing is limited to
folders under RETRIEVAL_INDEX_ROOTS (none when unset): a visitor must not be able to make the server
read, or the database store, any folder of the machine.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from retrieval.core.errors import RetrievalError
from retrieval.core.settings import ROOTS_KEY, Settings


@dataclass(frozen=True)
class AccessPolicy:
    """What the app allows: `login` says the writing controls need the password; `roots` are the
    folders (resolved) indexing may read below, or None for any folder."""

    login: bool
    password: str | None
    roots: tuple[Path, ...] | None

    def password_matches(self, given: str) -> bool:
        return self.password is not None and password_matches(given, self.password)


def is_loopback(address: str | None) -> bool:
    """Whether a server address reaches only this machine: 127.0.0.0/8, ::1 or localhost. An empty
    address is not: Streamlit then listens on every interface."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def password_matches(given: str, expected: str) -> bool:
    """Compare in constant time, so the time taken does not tell how much of a guess was right."""
    return hmac.compare_digest(given.encode(), expected.encode())


def folder_under_roots(folder: str, roots: tuple[Path, ...] | None) -> Path:
    """The folder to index: as given (user's home expanded) when any folder is allowed, else its real
    path, which must lie under one of `roots`; `..` and symbolic links are resolved before the check,
    so neither can lead outside. Raises RetrievalError saying what is allowed."""
    given = Path(folder.strip()).expanduser()
    if roots is None:
        return given
    if not roots:
        raise RetrievalError(f"Indexing from the app is not allowed here: set {ROOTS_KEY} to the folders it may index.")
    real = Path(os.path.realpath(given))
    if any(real == root or root in real.parents for root in roots):
        return real
    allowed = ", ".join(str(r) for r in roots)
    raise RetrievalError(f"{folder} is not under a folder the app may index ({allowed}); set {ROOTS_KEY} to change them.")


def load_policy(address: str | None, settings: Settings) -> AccessPolicy:
    """The policy for a server at `address`, from the settings (environment, then secrets.toml)."""
    login = not is_loopback(address) or settings.require_login
    roots: tuple[Path, ...] | None = () if login else None
    if settings.index_roots is not None:
        roots = tuple(Path(os.path.realpath(Path(p).expanduser())) for p in settings.index_roots.split(os.pathsep) if p)
    return AccessPolicy(login=login, password=settings.admin_password, roots=roots)
