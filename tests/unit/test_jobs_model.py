"""The Jobs list's truth at a glance and History's readable form, without a browser."""

from __future__ import annotations

import dataclasses

import pandas as pd

from gameball_batch import jobs
from gameball_batch import ledger as lg
from gameball_batch.charts.intake import issues_by_rule_figure
from gameball_batch.ui import jobs_model as jm


def summary(**changes: object) -> jobs.JobSummary:
    base = jobs.JobSummary(
        id="1c754ea9-aaaa-4000-8000-000000000001", batch_type="cashback",
        title="Cashback Rewards", file_name="drop.csv", state=lg.JOB_FINISHED,
        actor="amira@example.com", created_at=1_790_000_000.0, updated_at=1_790_000_100.0,
        row_count=1000, item_count=1000, chunk_count=1,
        rows={lg.ROW_APPLIED: 800, lg.ROW_NOT_APPLIED: 200}, chunks={},
        target_kind="production", target_label="production · api.gameball.co · key 1a2b3c",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_finished_job_with_rows_not_applied_needs_attention() -> None:
    assert jm.attention(summary()) == ["200 not applied"]


def test_a_job_with_every_row_applied_needs_nothing() -> None:
    assert jm.attention(summary(rows={lg.ROW_APPLIED: 1000})) == []


def test_failed_in_doubt_operator_and_approval_are_each_named() -> None:
    waiting = summary(state=lg.JOB_NEEDS_OPERATOR,
                      rows={lg.ROW_FAILED: 3, lg.ROW_UNKNOWN: 1_250, lg.ROW_APPLIED: 10})
    assert jm.attention(waiting) == ["3 failed", "1,250 in doubt", "needs an operator"]
    assert jm.attention(summary(state=lg.JOB_AWAITING_APPROVAL, rows={})) == [
        "awaiting approval"]


def test_the_list_frame_counts_rows_by_outcome_and_shows_the_short_id() -> None:
    frame = jm.list_frame([summary()])
    row = frame.iloc[0]
    assert row["job"] == "1c754ea9"
    assert (row["applied"], row["failed"], row["in doubt"], row["not applied"]) == (800, 0, 0, 200)
    assert row["needs attention"] == "200 not applied"
    assert row["target"] == "production · api.gameball.co · key 1a2b3c"


def test_filters_by_state_type_target_and_submitter() -> None:
    a = summary(id="a")
    b = summary(id="b", state=lg.JOB_RUNNING, batch_type="orders", actor="omar@example.com",
                target_kind="sandbox", target_label="sandbox")
    both = [a, b]
    assert jm.filter_jobs(both, jm.ListFilter()) == both
    assert jm.filter_jobs(both, jm.ListFilter(states=frozenset({lg.JOB_RUNNING}))) == [b]
    assert jm.filter_jobs(both, jm.ListFilter(types=frozenset({"cashback"}))) == [a]
    assert jm.filter_jobs(both, jm.ListFilter(targets=frozenset({"sandbox"}))) == [b]
    assert jm.filter_jobs(both, jm.ListFilter(submitters=frozenset({"omar@example.com"}))) == [b]
    assert jm.filter_choices(both)["targets"] == ["production · api.gameball.co · key 1a2b3c",
                                                  "sandbox"]


def test_a_job_without_a_recorded_target_says_so() -> None:
    assert jm.target_text(summary(target_kind="", target_label="")) == "not recorded"


def test_actors_read_as_people_command_lines_and_runners() -> None:
    assert jm.readable_actor("vm:10771:1c754ea9") == "runner on vm (process 10771)"
    assert jm.readable_actor("cli:amira") == "amira (command line)"
    assert jm.readable_actor("omar@example.com") == "omar@example.com"


def test_details_read_as_words_not_json() -> None:
    text = jm.readable_detail('{"decision": "applied", "reason": "seen in dashboard", '
                              '"rowCount": 1200, "chunks": [1, 2]}')
    assert text == ("decision: applied · reason: seen in dashboard · row count: 1,200 · "
                    "chunks: 1, 2")
    assert jm.readable_detail("{}") == ""
    assert jm.readable_detail("not json") == "not json"


def test_issues_by_rule_has_whole_number_ticks_and_upright_labels() -> None:
    issues = pd.DataFrame({"row": [2, 3, 4], "column": ["A"] * 3, "field": ["amount"] * 3,
                           "value": ["x"] * 3, "code": ["number", "number", "required"],
                           "message": ["m"] * 3})
    fig = issues_by_rule_figure(issues)
    assert fig.layout.xaxis.dtick == 1
    assert fig.data[0].textangle == 0
    assert fig.data[0].textposition == "outside"

