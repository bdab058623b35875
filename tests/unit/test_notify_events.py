"""Team signals without a network: the [notify] settings, audit actions → events, messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ledgers import open_test_ledger
from prepared_files import example

from gameball_batch import approval_flow, notify
from gameball_batch.approvals import ApprovalRules
from gameball_batch.ledger import AuditEntry, Ledger

SLACK = "https://hooks.slack.com/services/T0/B0/secretpart"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_test_ledger(tmp_path, "notify.db") as led:
        yield led


def test_hooks_and_their_events_are_read_from_the_settings() -> None:
    config = notify.settings_from({
        "console": {"base_url": "https://batch.shop.example/"},
        "notify": {"retries": 5, "hooks": [
            {"name": "ops", "url": SLACK, "events": ["awaiting_approval", "needs_operator"]},
            {"name": "all", "url": "https://example.org/hook"},
        ]},
    })
    ops, everything = config.hooks
    assert ops.wants("needs_operator")
    assert not ops.wants("finished_ok")
    assert everything.events == frozenset(notify.EVENTS)
    assert (config.retries, config.console_url) == (5, "https://batch.shop.example")
    assert ops.host == "hooks.slack.com"
    assert "secretpart" not in repr(ops)  # the URL is a credential


@pytest.mark.parametrize(("notify_section", "message"), [
    ({"hooks": [{"name": "x", "url": "hooks.slack.com/x"}]}, "needs a url starting with"),
    ({"hooks": [{"url": SLACK, "events": ["job_done"]}]}, "unknown event(s) job_done"),
    ({"hooks": [{"name": "a", "url": SLACK}, {"name": "a", "url": SLACK}]}, "named 'a'"),
    ({"timeout_seconds": "soon"}, "timeout_seconds must be a number"),
])
def test_unusable_settings_say_what_to_fix(notify_section: dict[str, object],
                                           message: str) -> None:
    with pytest.raises(notify.NotifyConfigError, match=message.replace("(", r"\(")
                       .replace(")", r"\)")):
        notify.settings_from({"notify": notify_section})


def entry(action: str, **detail: object) -> AuditEntry:
    return AuditEntry(1, 0.0, "runner", action, "job", dict(detail))


def test_audit_actions_map_to_events() -> None:
    assert notify.events_of(entry("approval.requested")) == ("awaiting_approval",)
    assert notify.events_of(entry("job.queued")) == ()  # an approval's queueing: no event
    assert notify.events_of(entry("job.queued", released=True)) == ("scheduled_started",)
    assert notify.events_of(entry("job.finished", rows={"applied": 3, "failed": 0})) == (
        "finished_ok",)
    assert notify.events_of(entry("job.finished", rows={"applied": 2, "failed": 1})) == (
        "finished_problems",)
    assert "needs_operator" in notify.events_of(entry("job.needs_operator"))
    assert notify.events_of(entry("chunk.done")) == ()


def test_the_approval_message_names_the_submitter_the_wait_and_the_totals(
        ledger: Ledger) -> None:
    prep = example("cashback")
    held = approval_flow.submit(
        ledger, prep.plan, impact=prep.impact, frame=prep.table.frame,
        file_name="secret-campaign.csv", fingerprint=prep.table.fingerprint,
        mapping=prep.mapping, actor="<!channel> ops@shop.example",
        rules=ApprovalRules(total_amount_over=1), duplicates=prep.report(ledger),
        keys=prep.keys)
    [request] = ledger.audit_entries(held.job_id, action=approval_flow.REQUESTED)
    payload = notify.message(ledger, request, "awaiting_approval", "https://c.example")
    assert payload is not None
    text = payload["text"]
    assert "waits for approval" in text
    assert "Submitted by &lt;!channel&gt; ops@" in text
    assert "amount" in text
    assert f"<https://c.example/jobs?job={held.job_id}|" in text
    job = payload["job"]
    assert job["submitter"] == "<!channel> ops@shop.example"
    assert job["waited_seconds"] >= 0
    assert job["totals"]
    flat = str(payload)
    assert "secret-campaign" not in flat
    for row in ledger.rows(held.job_id):
        assert row.key not in flat  # no transaction ids or other row contents
