"""The small pure parts around verification: snapshot customers, the setting, the chart,
and how the reconciliation report orders rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ledgers import open_test_ledger

from gameball_batch import snapshots, verification
from gameball_batch import verify as vf
from gameball_batch.charts.verify import verdicts_figure
from gameball_batch.ledger import NewChunk, NewJob, NewRow


def test_a_chunks_customers_are_read_from_its_payload_once_each() -> None:
    payload = json.dumps({"body": [{"customerId": "a", "amount": 1},
                                   {"customerId": "b", "amount": 2},
                                   {"customerId": "a", "amount": 3}]}).encode()
    assert snapshots.customers_of(payload) == ["a", "b"]


@pytest.mark.parametrize(("extra", "on"), [
    ({}, True),
    ({"verify": {"snapshot_balances": True}}, True),
    ({"verify": {"snapshot_balances": False}}, False),
])
def test_snapshots_are_on_unless_the_setting_turns_them_off(extra: dict[str, object],
                                                            on: bool) -> None:
    assert (snapshots.hook_for(extra) is not None) == on


@pytest.mark.parametrize(("status", "verdict", "agreement"), [
    ("applied", vf.APPLIED, "agrees"),
    ("applied", vf.ABSENT, "mismatch"),
    ("not_applied", vf.APPLIED, "mismatch"),
    ("failed", vf.ABSENT, "agrees"),
    ("unknown", vf.APPLIED, "in doubt"),
    ("applied", vf.UNCLEAR, "unclear"),
    ("applied", vf.NOT_VERIFIABLE, "not verifiable"),
])
def test_the_report_says_how_our_status_and_gameballs_evidence_relate(
    status: str, verdict: str, agreement: str,
) -> None:
    assert verification.agreement(status, verdict) == agreement


def test_the_chart_draws_one_bar_per_verdict_with_its_count() -> None:
    fig = verdicts_figure({"applied": 3, "absent": 1, "unclear": 2, "not_verifiable": 0})
    assert list(fig.data[0].y) == [3, 1, 2, 0]
    assert list(fig.data[0].x) == ["verified applied", "verified absent", "unclear",
                                   "not verifiable"]


def test_the_chart_says_when_nothing_was_verified() -> None:
    fig = verdicts_figure({})
    assert not fig.data
    assert "No row verified" in fig.layout.annotations[0].text


def test_the_report_lists_mismatches_first_and_is_formula_safe(tmp_path: Path) -> None:
    body = [{"customerId": f"=cmd|{n}", "amount": n + 1} for n in range(3)]
    with open_test_ledger(tmp_path, "l.db") as book:
        book.create_job(
            NewJob(id="j", batch_type="adjustments", file_name="f.csv", fingerprint="f",
                   sheet=None, mapping={}, columns=("c",), row_count=3, item_count=3,
                   totals={}, actor="t"),
            [NewChunk(0, json.dumps({"body": body}).encode(), 3)],
            [NewRow(n + 2, 0, item["customerId"], ("x",)) for n, item in enumerate(body)])
        book.settle_rows("j", {2: ("applied", None), 3: ("applied", None),
                               4: ("not_applied", "no")}, actor="t", action="test",
                         detail={}, cause="operator")
        result = verification.Verification("j", "adjustments", (
            vf.Verdict(2, "=cmd|0", "=cmd|0", vf.UNCLEAR, {"note": "moved"}),
            vf.Verdict(3, "=cmd|1", "=cmd|1", vf.ABSENT, {"note": "unchanged"}),
            vf.Verdict(4, "=cmd|2", "=cmd|2", vf.ABSENT, {"note": "unchanged"}),
        ))
        frame = verification.report_frame(book, result)
        text = verification.report_bytes(book, result, "csv").decode("utf-8-sig")
    assert list(frame["row"]) == [3, 2, 4]
    assert list(frame["agreement"]) == ["mismatch", "unclear", "agrees"]
    assert "'=cmd|0" in text
    assert "\n=cmd" not in text
    assert ",=cmd" not in text
