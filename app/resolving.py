"""The Duplicates tab's actions, for whoever may change the index (anyone on localhost, the admin once
the app is served): per group, keep a copy and set the others aside, or say "not duplicates"; the
whole page resolved after a preview of what moves; the last resolution undone. Files are moved into a
review folder (under the index roots when served), never deleted (retrieval/resolving.py)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.login import may_change
from app.markdown import literal
from retrieval import Group, ImageStore, Plan, keeper, mark_not_duplicates, plan_resolution, resolve, undo, why_kept
from retrieval.serving import AccessPolicy

DONE = "dup_done"  # the last action's message, shown once after the rerun it causes
PREVIEW = "dup_preview"  # the page's resolution waiting for confirmation


def group_actions(store: ImageStore, policy: AccessPolicy, group: Group) -> None:
    """Choose the copy to keep (the rule's choice first, with why), then act on the group."""
    if not may_change(policy):
        return
    rule_kept = keeper(group)
    key = f"{group.tier}-{group.number}"
    chosen = st.radio(
        "Copy to keep",
        group.paths,
        index=group.paths.index(rule_kept.path),
        format_func=lambda p: literal(p.rsplit("/", 1)[-1]) + (f" ({why_kept(group, rule_kept)})" if p == rule_kept.path else ""),
        horizontal=True,
        key=f"dup-keep-{key}-{group.paths[0]}",
    )
    keep, distinct = st.columns(2)
    if keep.button("Keep this one, set the others aside", key=f"dup-resolve-{key}"):
        _resolved(store, plan_resolution([group], kept={group.number: chosen}, roots=_roots(policy)))
    if distinct.button("Not duplicates", key=f"dup-distinct-{key}"):
        mark_not_duplicates(store, group.paths)
        _done(f"Marked the {len(group.paths)} images of group {group.number} as not duplicates.")


def page_actions(store: ImageStore, policy: AccessPolicy, groups: list[Group]) -> None:
    """ "Resolve this page" (a preview, then a confirmation) and "Undo the last resolution"."""
    if not may_change(policy):
        if policy.login:
            st.caption("Resolving duplicates needs the admin password: log in on the Admin tab.")
        return
    if message := st.session_state.pop(DONE, None):
        st.success(message)
    resolve_page, undo_last = st.columns(2)
    if groups and resolve_page.button("Resolve this page", key="dup-resolve-page"):
        kept = {g.number: st.session_state.get(f"dup-keep-{g.tier}-{g.number}-{g.paths[0]}") or keeper(g).path for g in groups}
        st.session_state[PREVIEW] = plan_resolution(groups, kept=kept, roots=_roots(policy))
    if undo_last.button("Undo the last resolution", key="dup-undo"):
        st.session_state.pop(PREVIEW, None)
        done = undo(store)
        left = "".join(f"  \n{literal(path)}: {literal(why)}" for path, why in done.left)
        _done(literal(done.summary()) + left)
    plan: Plan | None = st.session_state.get(PREVIEW)
    if plan is not None:
        with st.container(border=True, key="dup-preview"):
            st.markdown(f"**{len(plan.moves)} files** would move into `{literal(str(plan.review / plan.id))}`:")
            st.text("\n".join(plan.lines()))
            confirm, cancel = st.columns(2)
            if confirm.button(f"Set aside {len(plan.moves)} files", key="dup-confirm", type="primary"):
                st.session_state.pop(PREVIEW)
                _resolved(store, plan)
            if cancel.button("Cancel", key="dup-cancel"):
                st.session_state.pop(PREVIEW)
                st.rerun()


def _roots(policy: AccessPolicy) -> tuple[Path, ...] | None:
    """Where a review folder may be: under the index roots once served (none without them), anywhere on localhost."""
    return (policy.roots or ()) if policy.login else None


def _resolved(store: ImageStore, plan: Plan) -> None:
    done = resolve(store, plan)
    skipped = "".join(f"  \n{literal(path)}: {literal(why)}" for path, why in done.skipped)
    _done(literal(done.summary()) + skipped)


def _done(message: str) -> None:
    st.session_state[DONE] = message
    st.rerun()
