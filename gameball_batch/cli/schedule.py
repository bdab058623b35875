"""CLI commands for scheduled jobs: ``reschedule JOB --at …`` and ``cancel JOB``.

``submit FILE --at …`` (in :mod:`.jobs`) creates a scheduled job; a runner (the console's,
or any ``resume --wait``) starts it within one polling interval after its time. Times are
ISO 8601 ("2026-12-04T09:00+02:00"); without an offset they are read in the ``[console]
timezone`` setting (UTC when unset). The decisions are :mod:`gameball_batch.schedule`'s.
"""

from __future__ import annotations

import time

import click

from gameball_batch import schedule
from gameball_batch.cli import EXIT_USAGE
from gameball_batch.cli.jobs import _actor, _db_option, _fail, _guarded, _ledger, _settings
from gameball_batch.settings import Settings

AT_HELP = ("When to send, ISO 8601: 2026-12-04T09:00+02:00 (without an offset: in the "
           "[console] timezone setting, UTC by default). At most 90 days ahead.")


def parse_at(text: str, settings: Settings) -> float:
    """``--at`` as a UTC epoch; ends the command with a clear message when it is not one, or
    is in the past or too far ahead."""
    try:
        at = schedule.parse_at(text, schedule.zone_name(settings.extra))
        schedule.check(at, time.time())
    except schedule.ScheduleError as exc:
        _fail(str(exc), EXIT_USAGE)
    return at


def when_text(at: float, settings: Settings) -> str:
    return schedule.local_text(at, schedule.zone_name(settings.extra))


@click.command("reschedule")
@click.argument("job_id", metavar="JOB")
@click.option("--at", "at_text", required=True, metavar="TIME", help=AT_HELP)
@_db_option
@_guarded
def reschedule(job_id: str, at_text: str, db: str | None) -> None:
    """Move scheduled JOB to another time (until it starts); audited."""
    settings = _settings(db)
    at = parse_at(at_text, settings)
    with _ledger(settings) as ledger:
        try:
            schedule.reschedule(ledger, job_id, at, _actor())
        except schedule.ScheduleError as exc:
            _fail(str(exc), EXIT_USAGE)
    click.echo(f"Job {job_id} is now scheduled for {when_text(at, settings)}.")


@click.command("cancel")
@click.argument("job_id", metavar="JOB")
@click.option("--reason", default="", help="Why (recorded in the audit log).")
@_db_option
@_guarded
def cancel(job_id: str, reason: str, db: str | None) -> None:
    """Cancel scheduled JOB before it starts: nothing is sent; audited."""
    with _ledger(_settings(db)) as ledger:
        try:
            schedule.cancel(ledger, job_id, _actor(), reason)
        except schedule.ScheduleError as exc:
            _fail(str(exc), EXIT_USAGE)
    click.echo(f"Job {job_id} is cancelled: nothing was sent.")


def register(group: click.Group) -> None:
    for command in (reschedule, cancel):
        group.add_command(command)
