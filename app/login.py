"""Who may change the index in this session: anyone on localhost, else the admin once logged in."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import cast

import streamlit as st

from app.resources import login_throttle
from retrieval.serving import PASSWORD_KEY, AccessPolicy, visitor_address


def keep_for_this_run(policy: AccessPolicy) -> None:
    """Note this visitor's policy where the parts that read files or tell of the server find it."""
    st.session_state.policy = policy


def readable_roots() -> tuple[Path, ...] | None:
    """Below which folders this visitor may be shown files (retrieval/core/files.py, `may_read`): this
    run's policy's roots, None (any file) on the user's own machine; () before a run has noted them,
    which reads no file through a link."""
    policy = cast(AccessPolicy | None, st.session_state.get("policy"))
    return policy.roots if policy is not None else ()


def insider() -> bool:
    """Whether this visitor may learn of the server's insides (its URIs, paths, errors): on the user's
    own machine, or the admin logged in; an anonymous visitor of a served app may not."""
    policy = cast(AccessPolicy | None, st.session_state.get("policy"))
    return policy is not None and may_change(policy)


def may_change(policy: AccessPolicy) -> bool:
    """Whether this session may index and remove images: always on localhost, else once logged in."""
    return not policy.login or bool(st.session_state.get("admin", False))


def login(policy: AccessPolicy) -> None:
    """The admin password form, or how to set one when none is configured."""
    if policy.password is None:
        st.warning(
            "This app is served beyond localhost (or RETRIEVAL_REQUIRE_LOGIN is set), so indexing and removing images "
            f"need an admin password, and none is set: put `{PASSWORD_KEY}` in `.streamlit/secrets.toml` "
            "(or the environment) and restart the app. Searching needs no password."
        )
        return
    st.subheader("Log in to change the index")
    given = st.text_input("Admin password", type="password", key="admin_password")
    if st.button("Log in", key="admin_login"):
        # Counted for this session, for the visitor's address (what the visitor cannot forge: see
        # visitor_address) and for everyone (in the throttle), so neither new tabs nor new addresses go fast.
        address = visitor_address(st.context.ip_address, st.context.headers.get_all("X-Forwarded-For"), policy.proxies)
        keys = [f"session:{st.session_state.setdefault('visitor', uuid.uuid4().hex)}", f"address:{address}"]
        attempt = login_throttle().attempt(keys, lambda: policy.password_matches(given))
        if attempt.passed:
            st.session_state.admin = True
            st.rerun()
        st.error(attempt.message())
