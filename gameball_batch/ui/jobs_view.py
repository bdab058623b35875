"""The Jobs page's widgets: the job list, one job's live detail, its downloads and actions.

``pages/jobs.py`` calls :func:`render`. What the page shows is computed in ``jobs_model``
(no widgets there); this module only draws it. It changes a job only through
``gameball_batch.jobs`` (stop, pause, resume, retry, resolve), which audits each decision.
Nothing here submits: the runner's thread does that.

Everything of a job that changes while it runs (header and state, progress, counts,
charts, the error table) is drawn inside one ``st.fragment(run_every=…)``, so it refreshes
together; a full rerun switches the timer off once the job settles. Downloads are built
only when clicked. Text from a file or an operator goes through ``text.literal`` wherever
Streamlit would read it as markdown. No traceback reaches the page.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from gameball_batch import approval_flow
from gameball_batch import jobs as job_service
from gameball_batch import ledger as lg
from gameball_batch.access import Role
from gameball_batch.charts.jobs import chunk_grid_figure, failures_figure, progress_figure
from gameball_batch.ledger import Ledger
from gameball_batch.ui import access_view, schedule_view, services, verify_view
from gameball_batch.ui import state as keys
from gameball_batch.ui.common import actor, guard, ledger_or_stop, safe_bytes, why_disabled
from gameball_batch.ui.intake_model import confirmation_matches, confirmation_word
from gameball_batch.ui.jobs_model import (
    DECISION_TEXT,
    ERROR_PAGE_SIZE,
    ERROR_STATUSES,
    FAILURE_SAMPLE,
    LIST_LIMIT,
    LIST_LIVE_SECONDS,
    LIVE_SECONDS,
    RATE_WINDOW,
    ROW_STATUS_TEXT,
    STATE_ICON,
    STATE_TEXT,
    VIEW_ONLY_TEXT,
    JobSnapshot,
    ListFilter,
    ViewCache,
    attention,
    filter_choices,
    filter_jobs,
    format_duration,
    format_when,
    is_live,
    list_frame,
    list_summaries,
    live_view,
    load_snapshot,
    readable_actor,
    short_id,
    target_text,
    type_title,
)
from gameball_batch.ui.text import code, literal

log = logging.getLogger(__name__)

# Re-exported for tests and benches that drive this page by its widget keys.
JB_OPEN, JB_OPEN_GO, JB_LIST_TABLE = keys.JB_OPEN, keys.JB_OPEN_GO, keys.JB_LIST_TABLE
JB_STOP, JB_ABORT, JB_ABORT_CONFIRM = keys.JB_STOP, keys.JB_ABORT, keys.JB_ABORT_CONFIRM
JB_PAUSE, JB_RESUME, JB_RETRY = keys.JB_PAUSE, keys.JB_RESUME, keys.JB_RETRY
JB_RESOLVE_CHUNK, JB_RESOLVE_DECISION = keys.JB_RESOLVE_CHUNK, keys.JB_RESOLVE_DECISION
JB_RESOLVE_REASON, JB_RESOLVE_CONFIRM = keys.JB_RESOLVE_REASON, keys.JB_RESOLVE_CONFIRM
JB_RESOLVE_GO = keys.JB_RESOLVE_GO
JB_DL_FAILED_CSV, JB_DL_FAILED_XLSX = keys.JB_DL_FAILED_CSV, keys.JB_DL_FAILED_XLSX
JB_DL_RESULTS = keys.JB_DL_RESULTS
__all__ = ["ERROR_STATUSES", "VIEW_ONLY_TEXT", "ViewCache", "live_view", "load_snapshot",
           "render"]

ATTENTION_SHOWN = 10  # jobs named with a badge above the list; the table shows every one
STOP_TEXT = ("**Stop sending**: nothing new is sent; chunks Gameball already accepted run to "
             "the end and are recorded, so every row's outcome stays known.")
ABORT_TEXT = ("**Abort at Gameball** (emergency): also asks Gameball to stop the chunks it "
              "is processing; their rows stay *in doubt* unless Gameball's reply lists them.")


@st.cache_resource(show_spinner=False)
def _cache() -> ViewCache:
    """One cache per process: every operator watching a job shares its refreshes."""
    return ViewCache()


def _flash(kind: str, message: str) -> None:
    st.session_state[keys.JB_FLASH] = (kind, message)


def _show_flash() -> None:
    flash = st.session_state.pop(keys.JB_FLASH, None)
    if flash:
        kind, message = flash
        {"success": st.success, "warning": st.warning}.get(kind, st.info)(message)


def _open_job(job_id: str | None) -> None:
    if job_id:
        st.query_params[keys.JOB_QUERY_PARAM] = job_id
    else:
        st.query_params.pop(keys.JOB_QUERY_PARAM, None)


# --- the page --------------------------------------------------------------------------------


def render() -> None:
    """The job list, or one job's detail when ``?job=<id or short id>`` is in the URL."""
    st.title("Jobs")
    ledger = ledger_or_stop()
    _show_flash()
    wanted = st.query_params.get(keys.JOB_QUERY_PARAM)
    if not wanted:
        _render_list(ledger)
        return
    try:
        job_id = job_service.resolve_job_id(ledger, str(wanted))
    except job_service.JobError as exc:
        _back_button()
        st.error(f"{literal(exc)} It may belong to another ledger file, or the link was cut "
                 "short. Go back to **All jobs** to pick one.")
        return
    except lg.LedgerError as exc:
        st.error(f"The job ledger cannot be used: {literal(exc)}", icon=":material/database:")
        return
    if job_id != wanted:
        _open_job(job_id)  # a short id in a link becomes the full one: the address stays exact
    _render_detail(ledger, job_id)


# --- the list --------------------------------------------------------------------------------


def _render_list(ledger: Ledger) -> None:
    jobs: list[lg.Job] = []
    with guard("read the job list", stop=True):
        jobs = schedule_view.upcoming_first(ledger.jobs(limit=LIST_LIMIT))
    if not jobs:
        st.info("No jobs yet. Start one from **New batch**: upload a file, check it, submit.")
        return
    live = any(is_live(j.state) for j in jobs) or schedule_view.any_upcoming(jobs)
    st.fragment(run_every=LIST_LIVE_SECONDS if live else None)(_list_body)(live)
    _open_controls(jobs)


def _filters(summaries: list[job_service.JobSummary]) -> ListFilter:
    choices = filter_choices(summaries)
    c1, c2, c3, c4 = st.columns(4)
    states = c1.multiselect("State", choices["states"], key=keys.JB_F_STATES,
                            format_func=lambda s: STATE_TEXT.get(s, s))
    types = c2.multiselect("Type", choices["types"], key=keys.JB_F_TYPES,
                           format_func=type_title)
    targets = c3.multiselect("Target", choices["targets"], key=keys.JB_F_TARGETS)
    submitters = c4.multiselect("Submitted by", choices["submitters"], key=keys.JB_F_SUBMITTERS,
                                format_func=readable_actor)
    return ListFilter(frozenset(states), frozenset(types), frozenset(targets),
                      frozenset(submitters))


def _attention_badges(summaries: list[job_service.JobSummary]) -> None:
    """A line per job that needs a person, with a badge per reason, above the table."""
    needy = [(s, attention(s)) for s in summaries]
    needy = [(s, why) for s, why in needy if why]
    if not needy:
        st.caption(":material/check_circle: No job needs attention.")
        return
    st.markdown(f"**{len(needy):,} job(s) need attention**")
    for s, why in needy[:ATTENTION_SHOWN]:
        left, right = st.columns([2, 5], vertical_alignment="center")
        label = literal(f"{s.title} · {s.file_name or 'untitled'} · {short_id(s.id)}")
        left.page_link(_jobs_page(), label=label, query_params={keys.JOB_QUERY_PARAM: s.id})
        with right:
            for reason in why:
                st.badge(reason, icon=":material/warning:", color="orange")
    if len(needy) > ATTENTION_SHOWN:
        st.caption(f"… and {len(needy) - ATTENTION_SHOWN:,} more in the table below.")


def _jobs_page() -> Any:
    from gameball_batch.ui import routing  # the router's pages; imported late (no cycle)

    return routing.page("jobs")


def _list_body(was_live: bool) -> None:
    ledger = services.get_ledger()
    with guard("read the job list"):
        summaries = list_summaries(ledger, _cache())
        if was_live and not any(is_live(s.state) for s in summaries) \
                and not schedule_view.any_upcoming(summaries):
            st.rerun(scope="app")  # the last running job settled: drop the timer
        shown = filter_jobs(summaries, _filters(summaries))
        _attention_badges(shown)
        frame = list_frame(shown)
        st.dataframe(
            frame,
            hide_index=True,
            width="stretch",
            key=keys.JB_LIST_TABLE,
            on_select="rerun",
            selection_mode="single-row",
            column_config={
                "job": st.column_config.TextColumn("job", width="small"),
                "when": st.column_config.DatetimeColumn("when", format="YYYY-MM-DD HH:mm"),
                **{c: st.column_config.NumberColumn(c, format="localized")
                   for c in ("rows", "applied", "failed", "in doubt", "not applied")},
                "progress": st.column_config.ProgressColumn(
                    "progress", min_value=0.0, max_value=1.0, format="percent"
                ),
            },
        )
        st.caption(f"{len(shown):,} of {len(summaries):,} jobs shown.")
        picked = _selected_row(st.session_state.get(keys.JB_LIST_TABLE))
        if picked is not None and picked < len(shown):
            st.session_state.pop(keys.JB_LIST_TABLE, None)  # else "All jobs" would reopen it
            _open_job(shown[picked].id)
            st.rerun(scope="app")


def _selected_row(selection: Any) -> int | None:
    try:
        rows = selection["selection"]["rows"]
    except (KeyError, TypeError, IndexError):
        return None
    return int(rows[0]) if rows else None


def _open_controls(jobs: list[lg.Job]) -> None:
    labels = {
        j.id: f"{type_title(j.batch_type)} · {j.file_name or '—'} · "
        f"{format_when(j.created_at)} · {short_id(j.id)}"
        for j in jobs
    }
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    # Option labels are shown as plain text by the selectbox, never as markdown.
    chosen = left.selectbox(
        "Open a job", list(labels), format_func=labels.__getitem__, key=keys.JB_OPEN
    )
    if right.button("Open", key=keys.JB_OPEN_GO, type="primary") and chosen:
        _open_job(chosen)
        st.rerun()
    st.caption("Tip: click a row in the table to open it. The job's address can be shared.")


# --- one job ---------------------------------------------------------------------------------


def _back_button() -> None:
    if st.button("← All jobs", key=keys.JB_BACK):
        st.session_state.pop(keys.JB_LIST_TABLE, None)
        _open_job(None)
        st.rerun()


def _render_detail(ledger: Ledger, job_id: str) -> None:
    _back_button()
    snap: JobSnapshot | None = None
    with guard("read the job", stop=True):
        snap = load_snapshot(ledger, job_id, cache=_cache())
    if snap is None:
        st.error(
            f"There is no job {code(job_id)} in this console's ledger. It may belong to "
            "another ledger file, or the link was cut short. Go back to **All jobs** to pick "
            "one."
        )
        return
    may_act = _may_act()
    st.fragment(run_every=LIVE_SECONDS if snap.live else None)(_live_body)(
        job_id, snap.live, may_act
    )
    # A scheduled job's countdown is a fragment of its own (fragments do not nest), with
    # its reschedule and cancel controls.
    schedule_view.job_panel(snap.job, may_act=may_act)
    with guard("show the downloads"):
        _downloads(ledger, snap)
    with guard("show the actions"):
        _actions(ledger, snap, may_act=may_act)
    verify_view.render_verify(ledger, job_id)  # Verify at Gameball, reconcile, undo


def _may_act() -> bool:
    """Whether the person at the console may change jobs: operators only; no when unsure."""
    try:
        return access_view.holds(Role.OPERATOR)
    except Exception:  # roles unreadable: show the job, offer no action
        log.exception("reading the roles of the person at the console failed")
        return False


def _live_body(job_id: str, was_live: bool, may_act: bool) -> None:
    """One rerun of the live detail: cheap reads, then everything that changes, together."""
    ledger = services.get_ledger()
    statuses = st.session_state.get(keys.JB_ERR_STATUS) or list(ERROR_STATUSES)
    page = int(st.session_state.get(keys.JB_ERR_PAGE) or 1)
    view = None
    with guard("refresh the job"):
        view = live_view(ledger, job_id, cache=_cache(), statuses=statuses, page=page)
    if view is None:
        return
    snap, failures, errors = view
    if was_live and not snap.live:
        st.rerun(scope="app")  # the job settled: a full run turns the timer off
    _header(snap, may_act=may_act)
    _totals(snap)
    _charts(snap, failures)
    _error_table(snap, errors)


def _header(snap: JobSnapshot, *, may_act: bool) -> None:
    job = snap.job
    st.subheader(f"{literal(type_title(job.batch_type))} · "
                 f"{literal(job.file_name or 'untitled file')}")
    bits = [
        f"{STATE_ICON.get(job.state, '')} **{STATE_TEXT.get(job.state, job.state)}**",
        f"submitted by {literal(readable_actor(job.actor))}",
        format_when(job.created_at),
        f"job {code(job.id)}",
    ]
    if job.sheet:
        bits.insert(2, f"sheet {literal(job.sheet)}")
    st.markdown(" · ".join(bits))
    target = _target(job.id)
    if target:
        st.caption(f"Target: {literal(target)}")
    if job.parent_job_id:
        st.caption(f"Retry of job {code(job.parent_job_id)} (its failed rows).")
    reading = job.totals.get("reading")
    if isinstance(reading, str) and reading:
        st.caption(f"Read with: {literal(reading)}")  # decimal mark, dates, header row …
    if job.error:
        st.warning(literal(job.error))
    if job.state == lg.JOB_AWAITING_APPROVAL:
        st.info(
            "This job waits for a second person: an approver reviews it on the **Approvals** "
            "page. Nothing is sent before that."
        )
    if job.state == lg.JOB_NEEDS_OPERATOR:
        st.warning(
            "Some rows are **in doubt**: Gameball may or may not have applied them. "
            + ("Decide below under *Resolve in-doubt chunks*; nothing is resent without you."
               if may_act else "An operator decides on them; nothing is resent before that.")
        )


def _target(job_id: str) -> str | None:
    """Where the job sends; read once per job and process (a job's target never changes)."""
    try:
        ledger = services.get_ledger()
        return _cache().get(("target", ledger.where, job_id), (),
                            lambda: target_text(job_service.summary(ledger, job_id)))
    except Exception:  # the header must not fail on an optional line
        log.debug("no target for %s", job_id, exc_info=True)
        return None


def _totals(snap: JobSnapshot) -> None:
    rows = snap.rows
    st.progress(
        snap.progress,
        text=f"{snap.done_rows:,} of {snap.job.row_count:,} rows finished "
        f"({snap.progress:.0%})",
    )
    cols = st.columns(8)
    cols[0].metric("Rows", f"{snap.job.row_count:,}")
    cols[1].metric("Applied", f"{rows.get(lg.ROW_APPLIED, 0):,}")
    cols[2].metric("Failed", f"{rows.get(lg.ROW_FAILED, 0):,}",
                   help="Gameball refused these rows; its message says why.")
    cols[3].metric("Not applied", f"{rows.get(lg.ROW_NOT_APPLIED, 0):,}",
                   help="Never applied: the job was stopped or rejected, or an operator marked "
                   "them not applied. They can be retried.")
    cols[4].metric("In doubt", f"{rows.get(lg.ROW_UNKNOWN, 0):,}",
                   help="Gameball may or may not have applied these rows; an operator decides.")
    cols[5].metric("Pending", f"{rows.get(lg.ROW_PENDING, 0):,}")
    cols[6].metric("Items/s", f"{snap.rate:,.0f}" if snap.rate else "—",
                   help=f"Items finished per second over the last {RATE_WINDOW:.0f} s.")
    cols[7].metric("ETA", format_duration(snap.eta_seconds) if snap.live else "—")


def _charts(snap: JobSnapshot, failures: Counter[str]) -> None:
    left, right = st.columns([3, 2])
    # Per-item failures are counted in rows (the totals and the bar chart below); the line
    # can only tell chunks Gameball refused as a whole, so it shows them only when any were.
    series = {"finished": snap.done_items}
    if snap.failed_items and snap.failed_items[-1]:
        series["in refused chunks"] = snap.failed_items
    left.plotly_chart(
        progress_figure(snap.times, series, total=snap.job.item_count, unit="items"),
        width="stretch",
        key=keys.JB_CHART_PROGRESS,
    )
    right.plotly_chart(
        chunk_grid_figure(snap.chunk_states), width="stretch", key=keys.JB_CHART_CHUNKS
    )
    if failures:
        st.plotly_chart(failures_figure(failures), width="stretch", key=keys.JB_CHART_FAILURES)
        failed = snap.rows.get(lg.ROW_FAILED, 0)
        if failed > FAILURE_SAMPLE:
            st.caption(f"Messages ranked from the first {FAILURE_SAMPLE:,} of {failed:,} "
                       "failed rows.")


def _error_table(snap: JobSnapshot, errors: pd.DataFrame) -> None:
    st.markdown("#### Rows that need attention")
    if not snap.error_rows:
        st.caption("No failed, in-doubt or not-applied rows" +
                   (" so far." if snap.live else "."))
        return
    choices = [s for s in ERROR_STATUSES if snap.rows.get(s, 0)]
    left, right = st.columns([3, 1])
    left.multiselect(
        "Show", choices, default=choices, format_func=lambda s: (
            f"{ROW_STATUS_TEXT.get(s, s)} ({snap.rows.get(s, 0):,})"
        ), key=keys.JB_ERR_STATUS,
    )
    picked = st.session_state.get(keys.JB_ERR_STATUS) or []
    total = sum(snap.rows.get(s, 0) for s in picked)
    pages = max(1, math.ceil(total / ERROR_PAGE_SIZE))
    right.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1,
                       key=keys.JB_ERR_PAGE)
    if errors.empty:
        st.caption("Nothing to show for this choice.")
        return
    st.dataframe(  # cells and Gameball's messages: a table shows them as literal text
        errors,
        width="stretch",
        column_config={"row": st.column_config.NumberColumn("source row", format="%d")},
    )
    st.caption("Source row = the row number in your file (header = row 1).")


# --- downloads -------------------------------------------------------------------------------


def _failed_csv(ledger: Ledger, job_id: str) -> bytes:
    from gameball_batch import exports

    return bytes(exports.to_csv_bytes(job_service.failed_rows_frame(ledger, job_id)))


def _failed_xlsx(ledger: Ledger, job_id: str) -> bytes:
    from gameball_batch import exports

    return bytes(exports.to_xlsx_bytes(job_service.failed_rows_frame(ledger, job_id)))


def _results_csv(ledger: Ledger, job_id: str) -> bytes:
    from gameball_batch import exports

    frame = job_service.rows_frame(ledger, job_id).drop(columns=["chunk"], errors="ignore")
    return bytes(exports.to_csv_bytes(frame.reset_index()))


def _stem(job: lg.Job) -> str:
    name = (job.file_name or "job").rsplit(".", 1)[0]
    return f"{name}-{short_id(job.id)}"


def _downloads(ledger: Ledger, snap: JobSnapshot) -> None:
    st.markdown("#### Downloads")
    job, rows = snap.job, snap.rows
    retryable = rows.get(lg.ROW_FAILED, 0) + rows.get(lg.ROW_NOT_APPLIED, 0)
    cols = st.columns(3)
    cols[0].download_button(
        f"Failed rows, CSV ({retryable:,})",
        data=safe_bytes(lambda: _failed_csv(ledger, job.id), "the failed rows"),
        file_name=f"{_stem(job)}-failed.csv",
        mime="text/csv",
        key=keys.JB_DL_FAILED_CSV,
        disabled=not retryable,
        on_click="ignore",
        icon=":material/download:",
    )
    cols[1].download_button(
        f"Failed rows, XLSX ({retryable:,})",
        data=safe_bytes(lambda: _failed_xlsx(ledger, job.id), "the failed rows"),
        file_name=f"{_stem(job)}-failed.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=keys.JB_DL_FAILED_XLSX,
        disabled=not retryable,
        on_click="ignore",
        icon=":material/download:",
    )
    cols[2].download_button(
        "Full results, CSV",
        data=safe_bytes(lambda: _results_csv(ledger, job.id), "the results"),
        file_name=f"{_stem(job)}-results.csv",
        mime="text/csv",
        key=keys.JB_DL_RESULTS,
        on_click="ignore",
        icon=":material/download:",
    )
    if not retryable:
        why_disabled("No failed or not-applied rows to download"
                     + (" yet." if snap.live else "."))
    st.caption(
        "Failed rows keep your original columns plus an *error* column: fix them and upload "
        "the file again. Rows in doubt are left out on purpose — they may have been applied."
    )


# --- actions ---------------------------------------------------------------------------------


def _actions(ledger: Ledger, snap: JobSnapshot, *, may_act: bool) -> None:
    job = snap.job
    st.markdown("#### Actions")
    if not may_act:  # no controls at all: a viewer's session never holds an action widget
        st.caption(VIEW_ONLY_TEXT)
        return
    _stop_controls(ledger, job)
    cols = st.columns(3)
    with cols[0]:
        running = job.state in (lg.JOB_QUEUED, lg.JOB_RUNNING)
        if st.button("Pause", key=keys.JB_PAUSE, disabled=not running,
                     help="Send nothing more for now; chunks already sent are followed."):
            _act(lambda: job_service.pause(ledger, job.id, actor()),
                 "Paused. Resume whenever you are ready.", "Only a running job can be paused.")
        why_disabled(None if running else "Only a queued or running job can be paused.")
    with cols[1]:
        paused = job.state == lg.JOB_PAUSED
        if st.button("Resume", key=keys.JB_RESUME, disabled=not paused):
            _act(lambda: job_service.resume(ledger, job.id, actor()),
                 "Resumed: the job is back in the queue.", "Only a paused job can be resumed.")
        why_disabled(None if paused else "Only a paused job can be resumed.")
    with cols[2]:
        retryable = snap.rows.get(lg.ROW_FAILED, 0) + snap.rows.get(lg.ROW_NOT_APPLIED, 0)
        blocked = _retry_blocked(job, retryable)
        blocked = blocked or _already_retried(ledger, job.id)
        if st.button(f"Retry failed rows ({retryable:,})", key=keys.JB_RETRY,
                     disabled=blocked is not None,
                     help="One new job with exactly the failed and not-applied rows, same "
                          "ids. A job is retried once."):
            _retry(ledger, job.id)
        why_disabled(blocked)
    if st.session_state.get(keys.JB_RETRY_REVIEW) == job.id:
        _retry_review(ledger, job.id)
    _resolve_section(ledger, snap)


def _already_retried(ledger: Ledger, job_id: str) -> str | None:
    child = ledger.retry_child(job_id)
    if child is None:
        return None
    return f"Already retried as job {short_id(child.id)}: a job's failed rows are retried once."


def _retry_blocked(job: lg.Job, retryable: int) -> str | None:
    """Why "Retry failed rows" is disabled, or ``None`` when it is not."""
    if job.state == lg.JOB_REJECTED:
        return "A rejected job cannot be retried (it would skip the approval): submit the " \
               "file again."
    if job.state not in lg.SETTLED_JOB_STATES:
        return "Retry once the job has settled; it is still " \
               f"{STATE_TEXT.get(job.state, job.state)}."
    if not retryable:
        return "Nothing to retry: no failed or not-applied rows."
    return None


def _stop_controls(ledger: Ledger, job: lg.Job) -> None:
    """Two ways to stop, named for what they do; abort needs a confirmation."""
    live = is_live(job.state)
    left, right = st.columns(2)
    with left:
        if st.button("Stop sending", key=keys.JB_STOP, disabled=not live,
                     icon=":material/stop_circle:"):
            _act(lambda: job_service.request_stop(ledger, job.id, actor(), abort=False),
                 "Stop requested: nothing new will be sent; accepted chunks finish and are "
                 "recorded.", "The job is no longer running.")
        st.caption(STOP_TEXT)
    with right:
        sure = st.checkbox("I understand: rows of aborted chunks may stay in doubt",
                           key=keys.JB_ABORT_CONFIRM, disabled=not live)
        if st.button("Abort at Gameball", key=keys.JB_ABORT, disabled=not (live and sure),
                     icon=":material/dangerous:"):
            _act(lambda: job_service.request_stop(ledger, job.id, actor(), abort=True),
                 "Abort requested: nothing new is sent and Gameball is asked to stop.",
                 "The job is no longer running.")
        st.caption(ABORT_TEXT)
    if not live:
        why_disabled("The job is no longer running: there is nothing to stop.")
    elif not sure:
        why_disabled("Abort at Gameball needs the confirmation above it.")


def _act(action: Callable[[], bool], done: str, refused: str) -> None:
    with guard("do that"):
        changed = action()
        _flash("success" if changed else "warning", done if changed else refused)
        st.session_state.pop(keys.JB_ABORT_CONFIRM, None)
        st.rerun()


def _retry(ledger: Ledger, job_id: str, *, confirmed: bool = False) -> None:
    """Retry through the approval rules; unsafe types open their review first."""
    with guard("create the retry job"):
        try:
            submission = approval_flow.retry(
                ledger, job_id, actor(), confirmed=confirmed,
                rules=approval_flow.rules_from_settings(services.get_settings().extra),
                target=services.get_connection().target)
        except job_service.NeedsReview:
            st.session_state[keys.JB_RETRY_REVIEW] = job_id
            st.rerun()
        st.session_state.pop(keys.JB_RETRY_REVIEW, None)
        child = submission.job_id
        waits = (" It waits for an approver (" + literal("; ".join(submission.approval_reasons))
                 + ")." if submission.awaiting_approval else " It starts now.")
        _flash("success", f"Retry job {code(child)} created from the failed rows.{waits}")
        _open_job(child)
        st.rerun()


def _retry_review(ledger: Ledger, job_id: str) -> None:
    """Adjustments and events are not safe to resend: a retry is reviewed like a new job."""
    impact = approval_flow.retry_impact(ledger, job_id)
    with st.container(border=True):
        st.markdown(f"**Review the retry** · {impact.rows:,} item(s) for "
                    f"{impact.customers:,} customer(s)")
        st.caption(f"{literal(impact.batch_type.title)} are not safe to resend: make sure "
                   "these rows were not applied before (Verify at Gameball can tell).")
        for value in impact.values:
            st.text(f"{value.field}: adds {value.positive_total:,.2f}, deducts "
                    f"{abs(value.negative_total):,.2f}, net {value.total:,.2f}")
        for warning in impact.warnings:
            st.warning(literal(warning))
        missing = []
        if not st.checkbox("I have reviewed these rows and want to send them again",
                           key=keys.JB_RETRY_CONFIRM):
            missing.append("tick the review box")
        if services.get_connection().is_production:
            word = confirmation_word(impact.rows)
            typed = st.text_input(f"Type the number of items ({word}) to confirm",
                                  key=keys.JB_RETRY_TYPED)
            if not confirmation_matches(typed, impact.rows):
                missing.append(f"type {word} in the confirmation box")
        left, right = st.columns(2)
        if left.button("Send this retry", key=keys.JB_RETRY_SEND, type="primary",
                       disabled=bool(missing)):
            _retry(ledger, job_id, confirmed=True)
        if right.button("Cancel", key=keys.JB_RETRY_CANCEL):
            st.session_state.pop(keys.JB_RETRY_REVIEW, None)
            st.rerun()
        why_disabled(f"To send: {'; '.join(missing)}." if missing else None)


def _forget_decision() -> None:
    """Another chunk was chosen: its form starts empty, never with the last chunk's answers."""
    for key in (keys.JB_RESOLVE_DECISION, keys.JB_RESOLVE_REASON, keys.JB_RESOLVE_CONFIRM):
        st.session_state.pop(key, None)


def _resolve_section(ledger: Ledger, snap: JobSnapshot) -> None:
    if not snap.rows.get(lg.ROW_UNKNOWN, 0):
        return
    doubtful = job_service.in_doubt(ledger, snap.job.id)
    if not doubtful:
        return
    with st.expander(f"Resolve in-doubt chunks ({len(doubtful)})", expanded=True):
        st.write(
            "Gameball may or may not have applied these chunks (the connection dropped, or "
            "it never reported them). Check in Gameball's dashboard, then decide. Your "
            "decision and reason go into the audit trail."
        )
        # Selectbox options are plain text: Gameball's or the client's error is shown as is.
        by_label = {
            f"chunk {c.index + 1} · {len(c.rows):,} rows · {c.error or 'no detail'}": c
            for c in doubtful
        }
        label = st.selectbox("Chunk", list(by_label), key=keys.JB_RESOLVE_CHUNK,
                             on_change=_forget_decision)
        chunk = by_label[label] if label in by_label else doubtful[0]
        decision = st.radio("Decision", list(chunk.decisions),
                            format_func=lambda d: DECISION_TEXT.get(d, d),
                            key=keys.JB_RESOLVE_DECISION)
        reason = st.text_input("Reason (required)", key=keys.JB_RESOLVE_REASON,
                               placeholder="e.g. checked the dashboard: no transactions at 14:02")
        sure = st.checkbox(f"I am sure: apply this decision to chunk {chunk.index + 1}",
                           key=keys.JB_RESOLVE_CONFIRM)
        missing = [what for what, ok in (("a reason", reason.strip()),
                                         ("the 'I am sure' tick", sure)) if not ok]
        if st.button("Apply decision", key=keys.JB_RESOLVE_GO, type="primary",
                     disabled=bool(missing)):
            with guard("record the decision"):
                job_service.resolve_chunk(ledger, snap.job.id, chunk.index, str(decision),
                                          actor=actor(), reason=reason)
                _flash("success", f"Decision recorded for chunk {chunk.index + 1}.")
                for key in (keys.JB_RESOLVE_REASON, keys.JB_RESOLVE_CONFIRM):
                    st.session_state.pop(key, None)
                st.rerun()
        why_disabled(f"Needs {' and '.join(missing)}." if missing else None)
