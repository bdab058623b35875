"""Duplicate guards as an operator meets them: the same file, the same rows, the override."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from ledgers import open_test_ledger
from prepared_files import Prepared, example, prepare_frame

from gameball_batch import guards, templates
from gameball_batch import ledger as lg
from gameball_batch.batch_types import get
from gameball_batch.ledger import Ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_test_ledger(tmp_path, "guards.db") as led:
        yield led


def _settle(ledger: Ledger, job_id: str, status: str) -> None:
    """Drive every chunk of a job to done/failed through the runner's own ledger calls."""
    assert ledger.acquire_lease(job_id, "test-runner", 60)
    for chunk in ledger.chunks(job_id):
        assert ledger.claim(job_id, chunk.index, "test-runner") is not None
        assert ledger.mark_accepted(job_id, chunk.index, f"remote-{chunk.index}")
        state = lg.CHUNK_DONE if status == lg.ROW_APPLIED else lg.CHUNK_FAILED
        assert ledger.finish_chunk(job_id, chunk.index, state=state, unlisted=(status, None))


def _same_rows_other_file() -> Prepared:
    """The template's cashback rows with the columns in another order: new bytes, same rows."""
    frame = templates.example_frame(get("cashback"))
    return prepare_frame("cashback", frame[list(reversed(frame.columns))], "reordered.csv")


def test_a_new_file_is_not_blocked(ledger: Ledger) -> None:
    report = example("cashback").report(ledger)
    assert not report.blocked
    assert report.lines() == []


def test_the_same_file_again_is_blocked_and_names_the_earlier_job(ledger: Ledger) -> None:
    first = example("cashback").submit(ledger)
    again = example("cashback")
    report = again.report(ledger)
    assert report.blocked
    assert [j.id for j in report.earlier_jobs] == [first.job_id]
    with pytest.raises(guards.DuplicatesBlocked, match=first.job_id):
        again.submit(ledger)
    assert len(ledger.jobs()) == 1  # nothing was created


def test_the_same_file_as_another_type_is_not_the_same_job(ledger: Ledger) -> None:
    example("cashback").submit(ledger)
    frame = templates.example_frame(get("cashback"))
    other = prepare_frame("cashback", frame, "same.csv")
    assert other.report(ledger).earlier_jobs  # same bytes, same type
    assert not guards.check(ledger, batch_type=get("orders"), fingerprint=other.table.fingerprint,
                            keys=other.keys[:0], key_fields=()).blocked


def test_rows_sent_in_another_file_are_blocked_with_example_rows(ledger: Ledger) -> None:
    first = example("cashback").submit(ledger)
    _settle(ledger, first.job_id, lg.ROW_APPLIED)
    other = _same_rows_other_file()
    report = other.report(ledger)
    assert not report.earlier_jobs  # different bytes…
    assert report.matched_rows == (2, 3, 4, 5)  # …but every row was applied before
    text = "\n".join(report.lines())
    assert "4 row(s) match rows sent in the last 30 days" in text
    assert "row 2 (customerId=cus-1001" in text
    assert first.job_id in text
    with pytest.raises(guards.DuplicatesBlocked):
        other.submit(ledger)


def test_rows_of_a_job_still_queued_count_as_sent(ledger: Ledger) -> None:
    example("cashback").submit(ledger)
    assert _same_rows_other_file().report(ledger).matched_rows == (2, 3, 4, 5)


def test_failed_rows_do_not_block_a_resend(ledger: Ledger) -> None:
    first = example("cashback").submit(ledger)
    _settle(ledger, first.job_id, lg.ROW_FAILED)
    assert not _same_rows_other_file().report(ledger).row_matches


def test_rows_older_than_the_window_do_not_block(ledger: Ledger) -> None:
    example("cashback").submit(ledger)
    later = time.time() + 31 * 86_400
    report = _same_rows_other_file().report(ledger, clock=lambda: later)
    assert not report.row_matches
    assert _same_rows_other_file().report(ledger, days=40, clock=lambda: later).row_matches


def test_a_changed_amount_is_a_different_row(ledger: Ledger) -> None:
    example("cashback").submit(ledger)
    frame = templates.example_frame(get("cashback"))
    frame.loc[frame.index[0], "Amount"] = "151.75"
    report = prepare_frame("cashback", frame, "edited.csv").report(ledger)
    assert report.matched_rows == (3, 4, 5)


def test_generated_transaction_ids_are_left_out_of_the_key(ledger: Ledger) -> None:
    frame = templates.example_frame(get("cashback")).drop(columns=["Transaction ID"])
    prepare_frame("cashback", frame, "a.csv").submit(ledger)
    # Same rows plus a blank column: other bytes, so other generated ids; still the same rows.
    again = prepare_frame("cashback", frame.assign(Note=""), "b.csv")
    assert "transactionId" not in again.report(ledger).key_fields
    assert again.report(ledger).matched_rows == (2, 3, 4, 5)


def test_idempotent_types_have_no_row_guard(ledger: Ledger) -> None:
    example("customers").submit(ledger)
    frame = templates.example_frame(get("customers"))
    again = prepare_frame("customers", frame.assign(Note="x"), "again.csv")
    assert not again.report(ledger).blocked


def test_a_rejected_job_blocks_nothing(ledger: Ledger) -> None:
    from gameball_batch import approval_flow
    from gameball_batch.approvals import ApprovalRules

    held = example("cashback").submit(ledger, rules=ApprovalRules(total_amount_over=1))
    approval_flow.reject(ledger, held.job_id, "boss@shop.example", "wrong campaign")
    assert not example("cashback").report(ledger).blocked


def test_an_override_with_a_reason_sends_and_is_audited(ledger: Ledger) -> None:
    first = example("cashback").submit(ledger)
    again = example("cashback")
    with pytest.raises(guards.DuplicatesBlocked):
        again.submit(ledger, override="   ")  # a blank reason is no reason
    second = again.submit(ledger, actor="nour@shop.example", override="Gameball lost job 1")
    assert second.override_reason == "Gameball lost job 1"
    entry = next(e for e in ledger.audit_entries(second.job_id)
                 if e.action == guards.OVERRIDE_ACTION)
    assert entry.actor == "nour@shop.example"
    assert entry.detail["reason"] == "Gameball lost job 1"
    assert entry.detail["earlier_jobs"] == [first.job_id]
    assert entry.detail["matched_rows"] == 4


def test_only_the_rows_still_live_in_an_earlier_job_block(ledger: Ledger) -> None:
    """Each earlier row's own status counts, read from its own chunk: one chunk applied,
    one chunk failed (its rows were not applied, so sending them again is no duplicate)."""
    first = example("cashback").submit(ledger)
    assert ledger.acquire_lease(first.job_id, "test-runner", 60)
    rows = {r.row: r for r in ledger.rows(first.job_id)}
    failed = {rows[3].key}
    for chunk in ledger.chunks(first.job_id):
        assert ledger.claim(first.job_id, chunk.index, "test-runner") is not None
        assert ledger.mark_accepted(first.job_id, chunk.index, f"remote-{chunk.index}")
        keys = ledger.chunk_keys(first.job_id, chunk.index)
        assert ledger.finish_chunk(
            first.job_id, chunk.index, state=lg.CHUNK_DONE, applied=keys - failed,
            outcomes=[lg.ItemOutcome(k, lg.ROW_FAILED, "7000") for k in keys & failed],
            unlisted=None)
    report = _same_rows_other_file().report(ledger)
    assert report.matched_rows == (2, 4, 5)  # row 3 failed the first time: not a duplicate


def test_duplicate_days_come_from_settings() -> None:
    assert guards.duplicate_days({}) == 30
    assert guards.duplicate_days({"guards": {"duplicate_days": 7}}) == 7
    with pytest.raises(ValueError, match="whole number"):
        guards.duplicate_days({"guards": {"duplicate_days": "a week"}})


def test_business_keys_read_every_cell_as_the_row_by_row_rule_does() -> None:
    """Keys built column-wise equal the per-cell rule (what earlier versions stored)."""
    import numpy as np

    from gameball_batch.validate import ValidationResult

    bt = get("cashback")
    clean = pd.DataFrame(
        {
            "customerId": pd.Series([" cus-1\x1f", "cus-2", None, "\u3000cus-4\x85"], dtype="str"),
            "transactionId": pd.Series(["T1", "T2\t", "T3", "T4"], dtype=object),
            "amount": [10.5, 10.50000001, np.nan, 1e17],
            "transactionTime": [1, 2, 3, True],  # not text: the general path
        },
        index=pd.Index([2, 3, 5, 9], name="row"),
    )
    result = ValidationResult(bt, clean, pd.DataFrame(), pd.DataFrame(), (), 4)
    keys = guards.business_keys(result, {f: f for f in clean.columns})
    cells = zip(*(clean[f].tolist() for f in bt.key_fields), strict=True)
    expected = [guards.KEY_SEPARATOR.join([bt.slug, *map(guards._key_text, row)]) for row in cells]
    assert keys.tolist() == expected
    assert keys.index.tolist() == [2, 3, 5, 9]
    assert "".join(
        chr(c) for c in range(0x110000) if chr(c).isspace()
    ) == guards._PY_WHITESPACE


def test_keys_are_built_only_when_a_recent_job_of_the_type_could_match(ledger: Ledger) -> None:
    """No job of the type in the window: a million keys are neither built nor looked up."""
    prepared = example("cashback")
    built: list[int] = []

    def keys() -> pd.Series:
        built.append(1)
        return prepared.keys

    fields = guards.key_fields_for(prepared.bt, prepared.mapping)
    report = guards.check(ledger, batch_type=prepared.bt, fingerprint="new", keys=keys,
                          key_fields=fields)
    assert not report.blocked
    assert built == []
    first = prepared.submit(ledger)
    later = _same_rows_other_file()
    report = guards.check(ledger, batch_type=later.bt, fingerprint="new",
                          keys=lambda: later.keys, key_fields=fields)
    assert report.matched_rows == (2, 3, 4, 5)
    assert {m.job_id for m in report.row_matches} == {first.job_id}
