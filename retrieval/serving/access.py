"""Who may change the index from the app, and which folders it may index.

On localhost the app is the user's own: every control is open, any folder can be indexed. Served to
others (an address beyond loopback, a visitor from another machine or through a reverse proxy, or
RETRIEVAL_REQUIRE_LOGIN=1) searching stays open, but the controls that write (indexing, removing
images) need the admin password, wrong guesses are slowed down, and indexing is limited to folders
under RETRIEVAL_INDEX_ROOTS (none when unset): a visitor must not be able to make the server read, or
the database store, any folder of the machine.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import os
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from retrieval.core.errors import RetrievalError
from retrieval.core.files import within
from retrieval.core.settings import ROOTS_KEY, Settings
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.store import ImageStore

# Headers a reverse proxy adds: a request carrying one came through a proxy, so from anyone.
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")
FREE_GUESSES = 3  # wrong passwords taken at once; each further one waits twice as long as the last
LOCK_CAP = 900.0  # seconds: the longest wait between guesses


@dataclass(frozen=True)
class AccessPolicy:
    """What the app allows: `login` says the writing controls need the password; `roots` are the
    folders (resolved) indexing may read below, or None for any folder."""

    login: bool
    password: str | None
    roots: tuple[Path, ...] | None

    def password_matches(self, given: str) -> bool:
        return self.password is not None and password_matches(given, self.password)

    def for_request(self, client: str | None, headers: Mapping[str, str]) -> AccessPolicy:
        """The policy for one visitor: login is on, with no folder indexable unless roots are set,
        whenever the request did not come from this machine, whatever address the server is bound to."""
        if self.login or from_this_machine(client, headers):
            return self
        return replace(self, login=True, roots=self.roots if self.roots is not None else ())


def from_this_machine(client: str | None, headers: Mapping[str, str]) -> bool:
    """Whether a request came straight from this machine: a loopback peer (Streamlit gives None for
    127.0.0.1 and ::1) and no proxy header. Behind a reverse proxy on this host every peer is
    127.0.0.1, and only the proxy's header tells that the visitor is elsewhere."""
    names = {name.lower() for name in headers}
    return (client is None or is_loopback(client)) and not names.intersection(PROXY_HEADERS)


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


def catalogued(store: ImageStore, space: VectorSpace, paths: Collection[str]) -> set[str]:
    """The paths that have an image node: the only ones a URL may make the app read or show. The
    catalogue is asked, not the disk, so a path of any other file (or of none) costs no read."""
    return set(store.stored_files(space, paths)) if paths else set()


def folder_under_roots(folder: str, roots: tuple[Path, ...] | None, cache: Path | None = None) -> Path:
    """The folder to index: as given (user's home expanded) when any folder is allowed, else its real
    path, which must lie under one of `roots`; `..` and symbolic links are resolved before the check,
    so neither can lead outside. An empty name (the working directory) is refused, and so is a folder
    that is, holds or lies in the app's own `cache`. Raises RetrievalError saying what is allowed."""
    if not folder.strip():
        raise RetrievalError("Name the folder to index.")
    if "\0" in folder:
        raise RetrievalError("A folder name cannot contain a NUL character.")
    given = Path(folder.strip()).expanduser()
    if cache is not None:
        real, kept = Path(os.path.realpath(given)), Path(os.path.realpath(cache))
        if real == kept or real in kept.parents or kept in real.parents:
            raise RetrievalError(f"{folder} is, holds or lies in the app's own thumbnail cache ({kept}): name a photo folder.")
    if roots is None:
        return given
    if not roots:
        raise RetrievalError(f"Indexing from the app is not allowed here: set {ROOTS_KEY} to the folders it may index.")
    real = Path(os.path.realpath(given))
    if within(real, roots):
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


@dataclass(frozen=True)
class Attempt:
    """A password guess: whether it was checked (not refused for coming too soon) and passed, and the
    seconds before another guess is taken (0: now)."""

    checked: bool
    passed: bool
    wait: float
    failures: int = 0  # wrong guesses in a row so far, of the key that has most

    def message(self) -> str:
        """What to tell the person when the guess did not pass: how long to wait, or how many tries are left."""
        seconds = math.ceil(self.wait)
        if not self.checked:
            return f"Too many wrong passwords: try again in {seconds} s."
        if seconds:
            return f"Wrong password. Wait {seconds} s before the next try."
        left = FREE_GUESSES - self.failures
        return f"Wrong password. {left} more {'try' if left == 1 else 'tries'} before a wait."


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


@dataclass
class LoginThrottle:
    """Wrong admin passwords slowed down, per key (a session, a client address): FREE_GUESSES are taken
    at once, then each further guess waits twice as long as the last (1 s, 2 s, 4 s ... LOCK_CAP). A
    guess made while waiting is refused unchecked. One per process, shared by its sessions (thread-safe);
    the clock is passed in so that tests need not wait."""

    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _wait(self, keys: Collection[str]) -> float:
        """Seconds before a guess from any of `keys` is taken."""
        waits = [0.0]
        for failures in filter(None, (self._failures.get(k) for k in keys)):
            if failures.count >= FREE_GUESSES:
                lock = min(2.0 ** (failures.count - FREE_GUESSES), LOCK_CAP)
                waits.append(failures.last + lock - self.clock())
        return max(waits)

    def attempt(self, keys: Collection[str], check: Callable[[], bool]) -> Attempt:
        """Run `check` (the password comparison) unless a key must wait; count a failure, or forget the keys' failures."""
        with self._lock:
            if (wait := self._wait(keys)) > 0:
                return Attempt(checked=False, passed=False, wait=wait)
            if check():
                for key in keys:
                    self._failures.pop(key, None)
                return Attempt(checked=True, passed=True, wait=0.0)
            for key in keys:
                failures = self._failures.setdefault(key, _Failures())
                failures.count += 1
                failures.last = self.clock()
            return Attempt(checked=True, passed=False, wait=self._wait(keys), failures=max(self._failures[k].count for k in keys))
