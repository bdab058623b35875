"""The job page's verification section: Verify at Gameball, accept verdicts, decide chunks in
bulk, reconcile, and undo (``render_verify``, called once from the job detail).

Everything it does goes through ``gameball_batch.verification``; this module only draws and
collects the operator's reason. Text from Gameball, from a file or from an operator is shown
as literal text (``st.text``, ``st.dataframe``), never as markdown. Actions need the operator
role (a viewer's session never holds an action widget); anyone may look at the recorded
verdicts and download the report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from gameball_batch import jobs as job_service
from gameball_batch import ledger as lg
from gameball_batch import verification
from gameball_batch import verify as vf
from gameball_batch.access import Role
from gameball_batch.charts.verify import verdicts_figure
from gameball_batch.ledger import Ledger
from gameball_batch.ui import access_view, services
from gameball_batch.ui import state as keys

log = logging.getLogger(__name__)

# Widget keys of this section (tests drive them by these names).
VF_RUN = "vf.run"  # button: verify the rows in doubt
VF_RECONCILE = "vf.reconcile"  # button: verify every row
VF_REASON = "vf.reason"  # text input: reason for accepting the verdicts
VF_ACCEPT = "vf.accept"  # button: "Accept N verdicts"
VF_CHUNKS = "vf.chunks"  # multiselect: in-doubt chunks to decide together
VF_DECISION = "vf.decision"  # radio
VF_DECIDE_REASON = "vf.decide_reason"
VF_DECIDE = "vf.decide"  # button
VF_UNDO_REASON = "vf.undo_reason"
VF_UNDO = "vf.undo"  # button
VF_CSV = "vf.csv"  # download buttons
VF_XLSX = "vf.xlsx"
VF_FLASH = "vf.flash"
DECISION_TEXT = {"resend": "Resend", "applied": "Mark applied", "not_applied": "Mark not applied"}


def _may_act() -> bool:
    try:
        return access_view.holds(Role.OPERATOR)
    except Exception:  # roles unreadable: show the verdicts, offer no action
        log.exception("reading the roles of the person at the console failed")
        return False


def _actor() -> str:
    try:
        from gameball_batch.ui import frame

        return frame.identity().actor
    except Exception:  # a page opened on its own (tests) still records someone
        from gameball_batch.access import LOCAL_ACTOR

        return LOCAL_ACTOR


@contextmanager
def _guard(what: str) -> Iterator[None]:
    try:
        yield
    except job_service.JobError as exc:  # may quote a file's cell: shown as literal text
        st.error(f"Could not {what}:", icon=":material/block:")
        st.text(str(exc))
    except Exception as exc:  # st.rerun() is a BaseException: it passes through
        log.exception("%s failed", what)
        st.error(f"Could not {what}:", icon=":material/error:")
        st.text(f"{type(exc).__name__}: {exc}")


def _flash(message: str) -> None:
    st.session_state[VF_FLASH] = message


def render_verify(ledger: Ledger, job_id: str) -> None:
    """The whole section for one job (nothing for a job still being sent)."""
    job = ledger.job(job_id)
    if job is None or job.state not in lg.SETTLED_JOB_STATES:
        return
    st.markdown("#### Verify at Gameball")
    flash = st.session_state.pop(VF_FLASH, None)
    if flash:
        st.success(flash)
    may_act = _may_act()
    if may_act:  # asking Gameball writes evidence and audit entries: operators only
        with _guard("verify at Gameball"):
            _run_buttons(ledger, job)
    with _guard("show the verdicts"):
        result = verification.recorded(ledger, job_id)
        if result.verdicts:
            _verdicts(ledger, result)
            if may_act:
                _accept(ledger, job, result)
    if may_act:
        with _guard("decide the chunks"):
            _bulk(ledger, job)
        with _guard("prepare the undo"):
            _undo(ledger, job)


def _run_buttons(ledger: Ledger, job: lg.Job) -> None:
    in_doubt = ledger.row_counts(job.id)[lg.ROW_UNKNOWN]
    cols = st.columns(2)
    verify = cols[0].button(f"Verify at Gameball ({in_doubt:,} rows in doubt)", key=VF_RUN,
                            disabled=not in_doubt,
                            help="Ask Gameball what happened to the rows in doubt.")
    reconcile = cols[1].button("Reconcile with Gameball", key=VF_RECONCILE,
                               help="Compare every row with Gameball's records.")
    if verify or reconcile:
        client = services.get_client_factory()()
        try:
            with st.spinner("Asking Gameball…"):
                result = verification.gather(ledger, client, job.id, all_rows=reconcile,
                                             actor=_actor(),
                                             target=services.get_connection().target)
        finally:
            client.close()
        for note in result.notes:
            st.text(note)


def _verdicts(ledger: Ledger, result: verification.Verification) -> None:
    counts = result.counts
    cols = st.columns(4)
    for col, name in zip(cols, vf.VERDICTS, strict=True):
        col.metric(name.replace("_", " "), f"{counts[name]:,}")
    st.plotly_chart(verdicts_figure(counts), key="vf.chart")
    frame = verification.report_frame(ledger, result)
    st.dataframe(frame[["row", "customer", "gameball verdict", "agreement", "note",
                        "evidence"]], hide_index=True)
    stem = f"reconciliation-{result.job_id[:8]}"
    halves = st.columns(2)
    halves[0].download_button("Download report (CSV)", key=VF_CSV, file_name=f"{stem}.csv",
                            mime="text/csv",
                            data=verification.report_bytes(ledger, result, "csv"))
    halves[1].download_button("Download report (XLSX)", key=VF_XLSX, file_name=f"{stem}.xlsx",
                            mime="application/vnd.openxmlformats-officedocument."
                                 "spreadsheetml.sheet",
                            data=verification.report_bytes(ledger, result, "xlsx"))


def _accept(ledger: Ledger, job: lg.Job, result: verification.Verification) -> None:
    doubt = {r.row for r in ledger.rows(job.id, statuses=(lg.ROW_UNKNOWN,), cells=False)}
    ready = [v for v in result.verdicts
             if v.row in doubt and v.verdict in (vf.APPLIED, vf.ABSENT)]
    if not ready:
        return
    reason = st.text_input("Reason for accepting the verdicts (required)", key=VF_REASON,
                           placeholder="e.g. Gameball's records agree")
    label = f"Accept {len(ready):,} verdict" + ("" if len(ready) == 1 else "s")
    if st.button(label, key=VF_ACCEPT, type="primary",
                 disabled=not reason.strip()):
        done = verification.accept(ledger, job.id, actor=_actor(), reason=reason)
        st.session_state.pop(VF_REASON, None)
        _flash(f"{done.applied:,} row(s) applied, {done.not_applied:,} not applied "
               f"(retryable), {len(done.resent_chunks)} chunk(s) resent; "
               f"{done.left_unclear:,} still in doubt.")
        st.rerun()


def _bulk(ledger: Ledger, job: lg.Job) -> None:
    doubtful = job_service.in_doubt(ledger, job.id)
    if not doubtful:
        return
    with st.expander(f"Decide chunks without evidence ({len(doubtful)})"):
        labels = {f"chunk {c.index + 1} · {len(c.rows):,} rows": c for c in doubtful}
        chosen = st.multiselect("Chunks", list(labels), key=VF_CHUNKS)
        picked = [labels[label] for label in chosen if label in labels]
        offered = [d for d in job_service.DECISIONS
                   if all(d in c.decisions for c in picked)] or list(job_service.DECISIONS[1:])
        decision = st.radio("Decision", offered, key=VF_DECISION,
                            format_func=lambda d: DECISION_TEXT.get(d, d))
        reason = st.text_input("Reason (required)", key=VF_DECIDE_REASON)
        if st.button("Apply to the chosen chunks", key=VF_DECIDE,
                     disabled=not (picked and reason.strip())):
            count = verification.decide_chunks(ledger, job.id, [c.index for c in picked],
                                               str(decision), actor=_actor(), reason=reason)
            for key in (VF_CHUNKS, VF_DECIDE_REASON):
                st.session_state.pop(key, None)
            _flash(f"Decision recorded for {count} chunk(s).")
            st.rerun()


def _undo(ledger: Ledger, job: lg.Job) -> None:
    if job.batch_type not in verification.UNDOABLE:
        return
    plan = verification.undo_plan(ledger, job.id)
    with st.expander("Undo this job"):
        if plan.refused is not None:
            st.text(plan.refused)
            return
        st.text(f"{len(plan.items):,} applied row(s) would be reversed (amounts negated) by a "
                f"new adjustments job, reviewed like any job. {plan.left_in_doubt:,} row(s) "
                "in doubt are left out until they are settled.")
        reason = st.text_input("Reason (required)", key=VF_UNDO_REASON)
        if st.button("Create the undo job", key=VF_UNDO, disabled=not reason.strip()):
            from gameball_batch import approval_flow

            settings = services.get_settings()
            submission = verification.undo(
                ledger, job.id, actor=_actor(), reason=reason,
                rules=approval_flow.rules_from_settings(settings.extra),
                target=services.get_connection().target)
            st.session_state.pop(VF_UNDO_REASON, None)
            _flash(f"Undo job {submission.job_id} created"
                   + (" and waiting for an approver." if submission.awaiting_approval
                      else "; it starts now."))
            st.query_params[keys.JOB_QUERY_PARAM] = submission.job_id
            st.rerun()
