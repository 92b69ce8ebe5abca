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
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from retrieval.core.errors import RetrievalError
from retrieval.core.files import within
from retrieval.core.settings import PROXIES_KEY, ROOTS_KEY, Settings
from retrieval.core.spaces import VectorSpace
from retrieval.neo4j.store import ImageStore

# Headers reverse proxies and CDNs add (nginx, Apache, Traefik, Caddy, HAProxy, Cloudflare, Akamai,
# Fastly ...), each set by at least one of them alone: a request carrying one came through a proxy, so from anyone.
PROXY_HEADERS = (
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-server",
    "x-original-forwarded-for",
    "cf-connecting-ip",
    "true-client-ip",
    "client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
    "via",
)
FREE_GUESSES = 3  # wrong passwords taken at once from one visitor; each further one waits twice as long as the last
FREE_IN_ALL = 30  # wrong passwords taken at once from all visitors together, so that changing addresses gains nothing
LOCK_CAP = 900.0  # seconds: the longest wait between guesses
EVERYONE = "everyone"  # the throttle's key counting every guess
BEHIND_A_PROXY = "behind a proxy"  # the address of visitors whose proxy is not trusted: one for them all
# What Streamlit's server (uvicorn) trusts when FORWARDED_ALLOW_IPS is unset.
SERVER_PROXIES_DEFAULT = "127.0.0.1,::1"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Proxies:
    """Whose X-Forwarded-For is believed. `ours`: the proxies RETRIEVAL_TRUSTED_PROXIES names (none by
    default), whose last entry, the address the proxy itself appended, is the visitor's. `server`: the
    peers Streamlit's server (uvicorn) takes the header from (FORWARDED_ALLOW_IPS; None: any)."""

    ours: tuple[Network, ...] = ()
    server: tuple[Network, ...] | None = field(default_factory=lambda: server_networks(None))

    def trust(self, peer: str) -> bool:
        return _in(peer, self.ours)

    def trust_every_server_proxy(self) -> bool:
        """Whether each peer the server takes the header from is one of ours (this machine's addresses count as one)."""
        if self.server is None:
            return False
        return all(any(_covers(mine, theirs) for mine in self.ours) for theirs in self.server)


@dataclass(frozen=True)
class AccessPolicy:
    """What the app allows: `login` says the writing controls need the password; `roots` are the
    folders (resolved) indexing may read below, or None for any folder."""

    login: bool
    password: str | None
    roots: tuple[Path, ...] | None
    proxies: Proxies = field(default_factory=Proxies)

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
    proxies = Proxies(networks(settings.trusted_proxies, PROXIES_KEY), server_networks(settings.server_proxies))
    return AccessPolicy(login=login, password=settings.admin_password, roots=roots, proxies=proxies)


def networks(text: str | None, key: str) -> tuple[Network, ...]:
    """Addresses and networks separated by commas or spaces ("127.0.0.1, 10.0.0.0/8"); raises naming `key`."""
    found = []
    for item in (text or "").replace(",", " ").split():
        try:
            found.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            raise RetrievalError(f"{key} must list IP addresses or networks (e.g. 127.0.0.1 10.0.0.0/8), not {item!r}.") from None
    return tuple(found)


def server_networks(text: str | None) -> tuple[Network, ...] | None:
    """What uvicorn makes of FORWARDED_ALLOW_IPS (unset: 127.0.0.1 and ::1; "*": any, None here); a
    name that is no address it keeps as a literal, which no connecting IP matches."""
    items = (SERVER_PROXIES_DEFAULT if text is None else text).split(",")
    if any(item.strip() == "*" for item in items):
        return None
    found = []
    for item in items:
        try:
            found.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            continue
    return tuple(found)


def _host(entry: str) -> str:
    """An X-Forwarded-For entry's address, without a port or IPv6 brackets, as uvicorn reads it."""
    entry = entry.strip()
    if entry.startswith("[") and "]" in entry:
        return entry[1 : entry.index("]")]
    return entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry


def _in(address: str, within: Sequence[Network] | None) -> bool:
    if within is None:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in within)


def _covers(mine: Network, theirs: Network) -> bool:
    if mine.is_loopback and theirs.is_loopback:
        return True  # both name this machine
    return mine.version == theirs.version and theirs.subnet_of(mine)  # type: ignore[arg-type]


def _server_pick(entries: Sequence[str], server: tuple[Network, ...] | None) -> str:
    """The entry uvicorn puts in place of a trusted peer: the last one it does not trust, else the first."""
    hosts = [_host(e) for e in entries]
    if server is not None:
        for host in reversed(hosts):
            if not _in(host, server):
                return host
    return hosts[0]


def visitor_address(reported: str | None, forwarded: Sequence[str], proxies: Proxies) -> str:
    """The address a visitor's guesses are counted by, from what the visitor cannot forge.

    `reported` is Streamlit's `st.context.ip_address` (None for 127.0.0.1 and ::1), `forwarded` the
    request's X-Forwarded-For headers. Streamlit's server (uvicorn) reports the connecting address,
    except for a peer it trusts (FORWARDED_ALLOW_IPS, by default 127.0.0.1 and ::1) sending
    X-Forwarded-For: then it reports the header's last address it does not trust, which whoever
    connects from such a peer writes as they please. So the connecting address is taken as reported
    unless it is that pick; then it is unknown, but one the server trusts. The visitor is the
    connecting address, or, when that is a proxy of ours (every proxy the server trusts, when it is
    unknown), the last X-Forwarded-For entry, which that proxy appended itself (nginx's
    $proxy_add_x_forwarded_for). Visitors behind a proxy that is not ours share one address."""
    entries = [e.strip() for value in forwarded for e in value.split(",") if e.strip()]
    if entries and _picked(reported, _server_pick(entries, proxies.server)):
        return _host(entries[-1]) if proxies.trust_every_server_proxy() else BEHIND_A_PROXY
    peer = reported or "127.0.0.1"
    return _host(entries[-1]) if entries and proxies.trust(peer) else peer


def _picked(reported: str | None, picked: str) -> bool:
    """Whether the reported address is the one uvicorn picked (Streamlit reports 127.0.0.1 and ::1 as None)."""
    return picked in ("127.0.0.1", "::1") if reported is None else reported == picked


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
    """Wrong admin passwords slowed down, per key (a session, a visitor's address): FREE_GUESSES are
    taken at once, then each further guess waits twice as long as the last (1 s, 2 s, 4 s ... LOCK_CAP).
    Every guess also counts for EVERYONE, which takes FREE_IN_ALL, then waits the same way: new
    sessions from ever new addresses go no faster than that. A guess made while waiting is refused
    unchecked; the right password forgets its keys' failures and everyone's. One per process, shared
    by its sessions (thread-safe); the clock is passed in so that tests need not wait."""

    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _wait(self, keys: Collection[str]) -> float:
        """Seconds before a guess from any of `keys` is taken."""
        waits = [0.0]
        for key in keys:
            failures, free = self._failures.get(key), FREE_IN_ALL if key == EVERYONE else FREE_GUESSES
            if failures is not None and failures.count >= free:
                lock = min(2.0 ** (failures.count - free), LOCK_CAP)
                waits.append(failures.last + lock - self.clock())
        return max(waits)

    def attempt(self, keys: Collection[str], check: Callable[[], bool]) -> Attempt:
        """Run `check` (the password comparison) unless a key must wait; count a failure, or forget the keys' failures."""
        counted = [*keys, EVERYONE]
        with self._lock:
            if (wait := self._wait(counted)) > 0:
                return Attempt(checked=False, passed=False, wait=wait)
            if check():
                for key in counted:
                    self._failures.pop(key, None)
                return Attempt(checked=True, passed=True, wait=0.0)
            for key in counted:
                failures = self._failures.setdefault(key, _Failures())
                failures.count += 1
                failures.last = self.clock()
            most = max(self._failures[k].count for k in keys)
            return Attempt(checked=True, passed=False, wait=self._wait(counted), failures=most)
