"""CLI commands for verification: ``verify``, ``resolve`` and ``undo``.

- ``verify JOB [--all] [--json] [--rows] [-o REPORT]`` asks Gameball about the rows in doubt
  (every row with ``--all``), records the verdicts and evidence in the ledger and prints the
  counts. ``--json`` prints exactly ``{"job", "applied", "absent", "unclear",
  "not_verifiable"}`` plus ``"rows": [{"row", "verdict", "evidence"}]`` with ``--rows``.
  ``-o`` writes the reconciliation report (.csv or .xlsx). Exit 0 when nothing is unclear,
  3 otherwise.
- ``resolve JOB --accept-evidence --reason TEXT`` settles the recorded verdicts; ``resolve
  JOB --chunks 1,3 --decision resend|applied|not_applied --reason TEXT`` decides chunks
  with no evidence together.
- ``undo JOB --reason TEXT [--yes]`` creates the job that reverses the applied rows.

This module must not hold verification logic (``verification.py`` does) or print a key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from gameball_batch import verification
from gameball_batch.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from gameball_batch.cli.jobs import (
    _actor,
    _db_option,
    _fail,
    _guarded,
    _ledger,
    _settings,
    _stdin_is_terminal,
    _target,
)
from gameball_batch.jobs import DECISIONS
from gameball_batch.ledger import Ledger


def _job_id(ledger: Ledger, given: str) -> str:
    """A full job id from a full or short one (unique prefix)."""
    text = given.strip()
    if ledger.job(text) is not None:
        return text
    found = ledger.job_ids(text, limit=2) if text else []
    if len(found) == 1:
        return found[0]
    if not found:
        _fail(f"There is no job {given} in {ledger.where}.", EXIT_USAGE)
    _fail(f"Job id {given} is ambiguous: more than one job starts with it.", EXIT_USAGE)


@click.command("verify")
@click.argument("job", metavar="JOB")
@click.option("--all", "all_rows", is_flag=True, help="Every row, not only rows in doubt.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.option("--rows", "with_rows", is_flag=True, help="With --json: each row's verdict.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the reconciliation report here (.csv or .xlsx).")
@_db_option
@_guarded
def verify_command(job: str, all_rows: bool, as_json: bool, with_rows: bool,
                   output: Path | None, db: str | None) -> None:
    """Ask Gameball what happened to JOB's rows in doubt (or every row with --all)."""
    if output is not None and output.suffix.lower() not in (".csv", ".xlsx"):
        _fail(f"Write the report to .csv or .xlsx, not '{output.suffix or output.name}'.",
              EXIT_USAGE)
    settings = _settings(db)
    with _ledger(settings) as ledger:
        job_id = _job_id(ledger, job)  # before the sandbox starts: a typo ends here
        with _target(settings) as target:
            client = target.factory()
            try:
                result = verification.gather(ledger, client, job_id, all_rows=all_rows,
                                             actor=_actor(), target=target.target)
            finally:
                client.close()
        if output is not None:
            output.write_bytes(verification.report_bytes(ledger, result,
                                                         output.suffix.lower()[1:]))
    if as_json:
        click.echo(json.dumps(result.as_json(rows=with_rows), ensure_ascii=False, default=str))
    else:
        click.echo(f"Job {job_id}: " + ", ".join(verification.summary_lines(result)) + ".")
        for note in result.notes:
            click.echo(f"  note: {note}")
        if result.settleable:
            click.echo(f"Accept them with: python -m gameball_batch resolve {job_id[:8]} "
                       "--accept-evidence --reason TEXT")
    if output is not None:
        click.echo(f"Wrote the reconciliation report to {output}.", err=True)
    sys.exit(EXIT_OK if result.counts["unclear"] == 0 else EXIT_PARTIAL)


def _chunk_numbers(text: str) -> list[int]:
    try:
        numbers = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        _fail(f"--chunks takes chunk numbers like 1,3,4, got '{text}'.", EXIT_USAGE)
    if not numbers or min(numbers) < 1:
        _fail("Chunk numbers start at 1.", EXIT_USAGE)
    return [n - 1 for n in numbers]


@click.command("resolve")
@click.argument("job", metavar="JOB")
@click.option("--accept-evidence", is_flag=True,
              help="Settle the rows in doubt as the latest `verify` found them.")
@click.option("--chunks", help="Chunks to decide together, e.g. 1,3 (rows with no evidence).")
@click.option("--decision", type=click.Choice(DECISIONS), help="What to do with --chunks.")
@click.option("--reason", required=True, help="Why: recorded in the audit log.")
@_db_option
@_guarded
def resolve_command(job: str, accept_evidence: bool, chunks: str | None, decision: str | None,
                    reason: str, db: str | None) -> None:
    """Settle JOB's rows in doubt: by Gameball's evidence, or one decision for chunks."""
    if accept_evidence == bool(chunks):
        _fail("Give either --accept-evidence or --chunks with --decision.", EXIT_USAGE)
    with _ledger(_settings(db)) as ledger:
        job_id = _job_id(ledger, job)
        if chunks:
            if decision is None:
                _fail("--chunks needs --decision resend, applied or not_applied.", EXIT_USAGE)
            count = verification.decide_chunks(ledger, job_id, _chunk_numbers(chunks), decision,
                                               actor=_actor(), reason=reason)
            click.echo(f"Decided {count} chunk(s) of job {job_id}: {decision}.")
            return
        done = verification.accept(ledger, job_id, actor=_actor(), reason=reason)
    click.echo(f"Job {job_id}: {done.applied:,} row(s) applied, {done.not_applied:,} not "
               f"applied (retryable), {len(done.resent_chunks)} chunk(s) queued to resend, "
               f"{done.left_unclear:,} left in doubt.")
    if done.resent_chunks:
        click.echo(f"Send them with: python -m gameball_batch resume {job_id[:8]} --wait")


@click.command("undo")
@click.argument("job", metavar="JOB")
@click.option("--reason", required=True, help="Why: each reversing row's reason says "
                                              "\"Undo of job <id>: <reason>\".")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--override-duplicates", "override", metavar="REASON",
              help="Create it even though the duplicate guards found the same rows before.")
@_db_option
@_guarded
def undo_command(job: str, reason: str, yes: bool, override: str | None,
                 db: str | None) -> None:
    """Create the job that reverses JOB's applied adjustments (amounts negated)."""
    from gameball_batch import approval_flow

    settings = _settings(db)
    with _ledger(settings) as ledger:
        job_id = _job_id(ledger, job)
        plan = verification.undo_plan(ledger, job_id, reason)
        if plan.refused is not None:
            _fail(plan.refused, EXIT_USAGE)
        click.echo(f"Undo of job {job_id}: {len(plan.items):,} applied row(s) reversed; "
                   f"{plan.left_in_doubt:,} row(s) in doubt left out until settled.", err=True)
        if not yes:
            if not _stdin_is_terminal():
                _fail("No terminal to ask for confirmation: pass --yes.", EXIT_USAGE)
            if not click.confirm("Create the undo job?", default=False, err=True):
                _fail("Nothing was created.", EXIT_USAGE)
        try:
            rules = approval_flow.rules_from_settings(settings.extra)
        except ValueError as exc:
            _fail(str(exc), EXIT_USAGE)
        with _target(settings) as target:
            submission = verification.undo(ledger, job_id, actor=_actor(), reason=reason,
                                           rules=rules, target=target.target,
                                           override_reason=override)
    child = submission.job_id
    if submission.awaiting_approval:
        click.echo("It waits for an approver (" + "; ".join(submission.approval_reasons)
                   + ").", err=True)
    click.echo(f"Created undo job {child}.")
    click.echo(f"Send it with: python -m gameball_batch resume {child[:8]} --wait")


def register(group: click.Group) -> None:
    for command in (verify_command, resolve_command, undo_command):
        group.add_command(command)
