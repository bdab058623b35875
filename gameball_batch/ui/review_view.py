"""Step 5 of the new-batch flow, "Review the impact": totals, spread, earlier sends, plan.

:func:`render` draws the review of one validated file. Everything expensive comes from one
:class:`~gameball_batch.ui.review_model.Review`, built once per validated file and kept in
the flow's cache under the validation's key, so a rerun that changes nothing (a checkbox
ticked, a reason typed) recomputes nothing; the histograms are drawn from binned counts.
The duplicate guards are read again only when the ledger's newest job changes.

The review is drawn with elements a fresh browser tab draws at once: the histogram as
plain HTML bars, the largest rows as a markdown table, the first item as preformatted
text. Plotly, the data grid and the code highlighter each load megabytes of script first;
together they were ~2.5 s of a 100k-row review on a 2-core machine, more than the server
needs to read, validate and plan the file (bench/README.md, Console, "Session 5").

The flow's error handling and cache are passed in (``attempt``, ``cached``) so this module
does not import the rest of the flow (:mod:`gameball_batch.ui.intake_view`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import streamlit as st

from gameball_batch import approvals, guards
from gameball_batch.batch_types import BatchType
from gameball_batch.charts import html_bars
from gameball_batch.ui import review_model, routing, services
from gameball_batch.ui import state as keys
from gameball_batch.ui.text import literal, preformatted

T = TypeVar("T")

CHUNK_SIZE = 1000
ISSUE_TABLE_LIMIT = 10_000  # rows of a table drawn; the downloads hold them all
# Reviews and plans kept per session: a 1M-row plan holds ~130 MB of request bodies, and
# only the file on screen (and the one before, for an undo) is worth keeping.
REVIEWS_KEPT = 2


class Attempt(Protocol):
    def __call__(self, what: str, call: Callable[[], T], *, hint: str = "") -> T: ...


class Cached(Protocol):
    def __call__(
        self, kind: str, key: Any, compute: Callable[[], T], *, keep: int | None = None,
    ) -> T: ...


def render(
    payloads: Any, bt: BatchType, fingerprint: str, result: Any, mapping: dict[str, str],
    key: tuple[Any, ...], *, attempt: Attempt, cached: Cached,
) -> tuple[review_model.Review, review_model.PlanReview, guards.DuplicateReport]:
    """Draw step 5; returns the review, the plan and the duplicate report for the submit."""
    st.header("5. Review the impact")
    review = attempt("work out the impact", lambda: cached(
        "review", key, lambda: review_model.build_review(result), keep=REVIEWS_KEPT))
    _impact_view(bt, review, result)
    report = _duplicates(bt, fingerprint, result, mapping, key, attempt=attempt, cached=cached)

    def plan() -> review_model.PlanReview:
        return review_model.build_plan_review(
            result, lambda r: payloads.plan_chunks(r, size=CHUNK_SIZE))

    planned = attempt("plan the chunks", lambda: cached("plan", key, plan, keep=REVIEWS_KEPT))
    _plan_view(planned)
    return review, planned, report


def approval_rules() -> approvals.ApprovalRules:
    raw = services.get_settings().extra.get("approval")
    try:
        return approvals.ApprovalRules.from_mapping(raw if isinstance(raw, dict) else None)
    except ValueError as exc:
        st.warning(f"The [approval] settings are ignored: {exc}")
        return approvals.ApprovalRules()


def _value_metrics(review: review_model.Review) -> list[tuple[str, str]]:
    """(label, text) of each metric: the total, or added / deducted / net when it deducts."""
    out: list[tuple[str, str]] = []
    for line in review.lines:
        label = line.label.lower()
        if line.has_deductions:
            out += [(f"Added {label}", line.text("added")),
                    (f"Deducted {label}", line.text("deducted")),
                    (f"Net {label}", line.text("net"))]
        else:
            out.append((f"Total {label}", line.text("net")))
    return out


def _impact_view(bt: BatchType, review: review_model.Review, result: Any) -> None:
    impact = review.impact
    metrics = [("Rows to send", f"{impact.rows:,}"),
               ("Distinct customers", f"{impact.customers:,}"), *_value_metrics(review)]
    for column, (label, text) in zip(st.columns(len(metrics)), metrics, strict=True):
        column.metric(label, text)
    for line in review.lines:
        table = review.histograms.get(line.field)
        if table is not None:
            st.html(html_bars.histogram_html(table, label=line.label.lower(), unit=line.unit))
    if impact.values and not impact.largest_rows.empty:
        st.markdown("**Largest rows**")
        st.markdown(review_model.largest_rows_markdown(review))
    for warning in impact.warnings:
        st.warning(warning)
    if len(result.warnings):
        st.warning(f"{len(result.warnings):,} non-blocking warnings (listed in step 4, where "
                   "their rows can be edited); they do not stop sending.")
        with st.expander("Warnings"):
            st.dataframe(result.warnings.head(ISSUE_TABLE_LIMIT), hide_index=True,
                         key=keys.NB_WARNINGS_TABLE)
    reasons = approvals.approval_reasons(impact, approval_rules())
    if reasons:
        st.warning("Above this console's approval thresholds: " + "; ".join(reasons) +
                   ". Submitting holds the job until another approver approves it.",
                   icon=":material/approval:")


def _duplicates(
    bt: BatchType, fingerprint: str, result: Any, mapping: dict[str, str],
    key: tuple[Any, ...], *, attempt: Attempt, cached: Cached,
) -> guards.DuplicateReport:
    """Both duplicate guards; recomputed when the file or the ledger's newest job changes.

    The business keys of a million rows are built only when a recent job of the same type
    could match them (guards.check decides), and then kept for the submission.
    """
    ledger = services.get_ledger()
    newest = next(iter(ledger.jobs(limit=1)), None)

    def row_keys() -> Any:
        return cached("row_keys", key, lambda: guards.business_keys(result, mapping),
                      keep=REVIEWS_KEPT)

    def run() -> guards.DuplicateReport:
        return guards.check(
            ledger, batch_type=bt, fingerprint=fingerprint, keys=row_keys,
            key_fields=guards.key_fields_for(bt, mapping),
            days=guards.duplicate_days(services.get_settings().extra),
            target=services.get_connection().target, ids=guards.file_ids(result),
        )

    report: guards.DuplicateReport = attempt("look up earlier jobs", lambda: cached(
        "duplicates", (key, newest.id if newest else None), run))
    if report.earlier_jobs:
        st.warning(
            f"This exact file was already sent as {bt.title} in {len(report.earlier_jobs)} "
            "earlier job(s). Sending it again needs your explicit override, with a reason, "
            "below."
        )
        for job in report.earlier_jobs[:5]:
            st.page_link(routing.page("jobs"), label=f"Job {job.id[:8]} · {job.state} · "
                         f"{job.row_count:,} rows · by {literal(job.actor)}",
                         query_params={keys.JOB_QUERY_PARAM: job.id})
    if report.row_matches:
        more = "at least " if report.truncated else ""
        st.warning(
            f"{more}{len(report.matched_rows):,} row(s) match rows sent in the last "
            f"{report.days} days (same {', '.join(report.key_fields)}). Sending them again "
            "could apply them twice; it needs your explicit override, with a reason, below."
        )
        st.dataframe(report.matches_frame().head(ISSUE_TABLE_LIMIT), hide_index=True,
                     key=keys.NB_DUPLICATE_ROWS)
    if report.id_matches:
        name = bt.result_key
        st.warning(
            f"{len({m.row for m in report.id_matches}):,} row(s) reuse a {name} that an "
            "earlier job already sent. Gameball keeps the first and refuses the rest, whatever "
            "the amount, so these rows would not do what this file says. Sending them needs "
            "your explicit override, with a reason, below."
        )
        st.dataframe(
            [{"row": m.row, name: m.id, "earlier job": m.job_id[:8],
              "earlier row": m.earlier_row, "earlier status": m.earlier_status}
             for m in report.id_matches[:ISSUE_TABLE_LIMIT]],
            hide_index=True, key=keys.NB_DUPLICATE_IDS)
    return report


def _plan_view(review: review_model.PlanReview) -> None:
    plan = review.plan
    st.markdown(
        f"**Chunk plan:** {plan.item_count:,} items from {plan.row_count:,} rows in "
        f"{review.chunk_count:,} request(s) of up to {review.largest_chunk:,} items each."
    )
    note = plan.repeated_customer_note()
    if note:
        st.info(literal(note[:1].upper() + note[1:]), icon=":material/group:")
    if review.chunk_count:
        st.markdown("**The first item, exactly as it will be sent:**")
        st.html(preformatted(review.first_item_json))
