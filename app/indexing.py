"""Starting the process's indexing job, and its progress as every session sees it."""

from __future__ import annotations

import time

import streamlit as st

from app.markdown import literal
from app.resources import THUMBNAIL_CACHE, get_job
from retrieval import Embedder, ImageStore, Neo4jSettings, RetrievalError
from retrieval.serving import AccessPolicy, IndexRun, folder_under_roots

PROGRESS_SECONDS = 1.0  # how often a session redraws a running indexing job


def start_indexing(store: ImageStore, embedder: Embedder, policy: AccessPolicy, folder: str, connection: Neo4jSettings) -> None:
    """Start the process's indexing job on `folder` if it is allowed and no run is going (in any session)."""
    try:
        checked = folder_under_roots(folder, policy.roots, cache=THUMBNAIL_CACHE)
    except RetrievalError as e:
        st.error(literal(str(e)))
        return
    if (running := get_job().start(store, embedder, checked, connection, roots=policy.roots)) is None:
        st.rerun()  # redraw the whole page, so that every panel of the run (sidebar, Admin tab) follows it
    st.warning(
        f"An indexing run of {literal(running.folder)} is in progress: {running.progress.done} of {running.progress.total}. "
        "Wait for it to finish before starting another."
    )


def job_status(detailed: bool) -> None:
    """The latest indexing run, in every session: redrawn every PROGRESS_SECONDS while it runs. An idle
    page polls nothing: a timed fragment run that follows another fragment's run at once can leave that
    run's replaced elements on the page (Streamlit 1.67: a removed example, result cards twice), so a
    run another session starts shows at this session's next action (and pressing "Index folder" says so)."""
    run = get_job().latest()
    st.session_state.job_poll = PROGRESS_SECONDS if run and run.running else None
    st.fragment(run_every=st.session_state.job_poll)(job_panel)(detailed)


def job_panel(detailed: bool) -> None:
    run = get_job().latest()
    if (st.session_state.job_poll == PROGRESS_SECONDS) != bool(run and run.running):
        st.rerun()  # a run began or ended since the page was drawn: redraw it all (counts, polling rate) once
    if run is None:
        return
    if run.running:
        show_progress(run)
    elif run.error:
        st.error(f"Indexing {literal(run.folder)} stopped: {literal(run.error)}")
    elif run.report:
        st.progress(1.0, text=f"Done in {run.report.seconds:.1f} s")
        linked = run.report.links.summary() if run.report.links else ""
        st.success(f"{literal(run.folder)}: {literal(run.report.summary())}. {linked}")
        if kinds := run.report.skipped_kinds():
            st.markdown("Skipped: " + "; ".join(f"**{count}** {literal(kind)}" for kind, count in kinds))
        if detailed and run.report.skipped:
            st.dataframe([{"file": s.path, "reason": s.reason} for s in run.report.skipped], hide_index=True)


def show_progress(run: IndexRun) -> None:
    """The files done while any is left; then the similarity lists still being written (they are
    written beside the embedding, batch by batch, so both counts move from the first batch on)."""
    report, linking = run.progress, run.linking
    if report.done < report.total or linking is None:
        st.progress(report.done / max(report.total, 1), text=f"Indexing {literal(run.folder)}: {report.done} of {report.total}")
    else:
        st.progress(linking.done / max(linking.total, 1), text=f"Linking similar images: {linking.done} of {linking.total}")
    lists = f" · similarity lists **{linking.done}** of **{linking.total}**" if linking is not None else ""
    st.markdown(
        f"new **{report.new}** · updated **{report.updated}** · unchanged **{report.unchanged}**"
        f" · skipped **{len(report.skipped)}**{lists} · elapsed **{time.time() - run.started:.0f} s**"
    )
