"""Send at a time: validate a requested moment, convert between zones, release due jobs.

The ledger is the schedule. A job to be sent later is stored in the ``scheduled`` state with
``scheduled_at`` (UTC epoch); the runner never drives it. Once per tick the runner calls
:func:`release_due`, which moves every scheduled job whose time has come to ``queued``
(audited), so it starts within one polling interval after its time. Nothing is held in
memory: a restart finds the same schedule in the ledger.

A job that needs approval keeps its ``scheduled_at`` while ``awaiting_approval``. Approving
it before its time makes it ``scheduled`` (:func:`state_when_approved`); still unapproved at
its time, it does not start: :func:`release_due` says so on the job and in the audit log
(once), and approving it later queues it at once.

Rescheduling and cancelling are allowed until the job starts; both are audited. A cancel
settles the job like a rejection: nothing sent, its rows not applied.

This module must not import streamlit or send anything.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gameball_batch import ledger as lg
from gameball_batch.ledger import Ledger

MAX_AHEAD_DAYS = 90
SCHEDULER = "scheduler"  # the actor of releases, in the audit log

SET = "schedule.set"
RESCHEDULED = "schedule.rescheduled"
CANCELLED = "schedule.cancelled"
WAITING_APPROVAL = "schedule.waiting_approval"

# The job's note while its time has passed without an approval; its prefix tells
# release_due the job already said so.
WAITING_NOTE = "Its scheduled time has passed, but it is not approved yet"

# States in which a job is still "scheduled, not started": it may be rescheduled or cancelled.
_CHANGEABLE = (lg.JOB_SCHEDULED, lg.JOB_AWAITING_APPROVAL)


class ScheduleError(ValueError):
    """A requested time or change that cannot be accepted; the message says why."""


# --- zones and times ---------------------------------------------------------------------


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` ("Africa/Cairo", "UTC"); ScheduleError for an unknown one."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"'{name}' is not a time zone this machine knows; use an IANA "
                            "name such as Africa/Cairo, Europe/Berlin or UTC.") from None


def zone_name(extra: Mapping[str, Any]) -> str:
    """The operator's zone: ``[console] timezone`` (IANA name), UTC when unset or unknown."""
    console = extra.get("console")
    name = str(console.get("timezone", "") or "").strip() if isinstance(console, Mapping) else ""
    if not name:
        return "UTC"
    try:
        zone(name)
    except ScheduleError:
        return "UTC"
    return name


def parse_at(text: str, default_zone: str = "UTC") -> float:
    """An ISO 8601 moment ("2026-12-04T09:00+02:00"; without an offset, in
    ``default_zone``) as a UTC epoch; ScheduleError with an example when it is not one."""
    raw = text.strip()
    try:
        moment = dt.datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise ScheduleError(f"'{text}' is not a date and time: write it like "
                            "2026-12-04T09:00+02:00 (or without the offset, in "
                            f"{default_zone}).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(default_zone))
    return moment.timestamp()


def from_local(day: dt.date, time: dt.time, zone_name_: str) -> float:
    """A date and a wall-clock time in a zone, as a UTC epoch."""
    return dt.datetime.combine(day, time, tzinfo=zone(zone_name_)).timestamp()


def check(at: float, now: float) -> None:
    """Refuse a moment in the past or more than 90 days ahead, with a clear message."""
    if at <= now:
        raise ScheduleError(f"{utc_text(at)} is in the past (it is now {utc_text(now)}): "
                            "choose a later time, or send now.")
    if at > now + MAX_AHEAD_DAYS * 86400:
        raise ScheduleError(f"{utc_text(at)} is more than {MAX_AHEAD_DAYS} days ahead: "
                            f"schedule it no later than {utc_text(now + MAX_AHEAD_DAYS * 86400)}.")


def utc_text(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def local_text(at: float, zone_name_: str) -> str:
    """"2026-12-04 09:00 Africa/Cairo (07:00 UTC)": the operator's zone and UTC."""
    local = dt.datetime.fromtimestamp(at, zone(zone_name_))
    if zone_name_ == "UTC":
        return utc_text(at)
    utc = dt.datetime.fromtimestamp(at, dt.UTC)
    day = "" if utc.date() == local.date() else utc.strftime("%Y-%m-%d ")
    return f"{local:%Y-%m-%d %H:%M} {zone_name_} ({day}{utc:%H:%M} UTC)"


def countdown(at: float, now: float) -> str:
    """"in 2 d 3 h", "in 1 h 5 min", "in 40 s"; "due now" once the time has come."""
    left = int(at - now)
    if left <= 0:
        return "due now"
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"in {days} d {hours} h"
    if hours:
        return f"in {hours} h {minutes} min"
    if minutes:
        return f"in {minutes} min {seconds} s"
    return f"in {seconds} s"


# --- the ledger side -----------------------------------------------------------------------


def initial_state(scheduled_at: float | None, needs_approval: bool) -> str:
    """The state a new job is created in."""
    if needs_approval:
        return lg.JOB_AWAITING_APPROVAL
    return lg.JOB_QUEUED if scheduled_at is None else lg.JOB_SCHEDULED


def state_when_approved(job: lg.Job, now: float) -> str:
    """Approval of a scheduled job before its time keeps it waiting for its time."""
    if job.scheduled_at is not None and job.scheduled_at > now:
        return lg.JOB_SCHEDULED
    return lg.JOB_QUEUED


def release_due(ledger: Ledger, *, actor: str = SCHEDULER) -> list[str]:
    """Queue every scheduled job whose time has come (audited ``job.queued`` with
    ``released``); say once on each unapproved one that it waits. Returns the queued ids.

    Guarded moves: with several runners on one ledger each job is released exactly once.
    """
    now = ledger.now()
    released = []
    for job in ledger.due_jobs(lg.JOB_SCHEDULED, now):
        assert job.scheduled_at is not None
        detail = {"released": True, "scheduled_at": job.scheduled_at,
                  "late_seconds": round(now - job.scheduled_at, 3)}
        if ledger.set_job_state(job.id, lg.JOB_QUEUED, expect=(lg.JOB_SCHEDULED,),
                                actor=actor, detail=detail):
            released.append(job.id)
    for job in ledger.due_jobs(lg.JOB_AWAITING_APPROVAL, now):
        if (job.error or "").startswith(WAITING_NOTE):
            continue
        assert job.scheduled_at is not None
        ledger.set_job_error(job.id, f"{WAITING_NOTE}: it was scheduled for "
                                     f"{utc_text(job.scheduled_at)} and starts as soon as "
                                     "someone approves it.")
        ledger.audit(actor, WAITING_APPROVAL, job.id, {"scheduled_at": job.scheduled_at,
                                                       "submitter": job.actor})
    return released


def _changeable(ledger: Ledger, job_id: str) -> lg.Job:
    job = ledger.job(job_id)
    if job is None:
        raise ScheduleError(f"There is no job {job_id}.")
    if job.scheduled_at is None or job.state not in _CHANGEABLE:
        what = job.state.replace("_", " ")
        raise ScheduleError(f"Job {job_id} is {what} and not scheduled: only a job waiting "
                            "for its time can be rescheduled or cancelled"
                            + (" (stop it instead)." if job.state in lg.ACTIVE_JOB_STATES
                               else "."))
    return job


def reschedule(ledger: Ledger, job_id: str, at: float, actor: str) -> None:
    """Move a scheduled (or scheduled, awaiting approval) job to another time; audited."""
    check(at, ledger.now())
    job = _changeable(ledger, job_id)
    detail = {"from": job.scheduled_at, "to": at}
    if not ledger.set_schedule(job_id, at, expect=(job.state,), actor=actor,
                               action=RESCHEDULED, detail=detail):
        raise ScheduleError(f"Job {job_id} started or changed a moment ago; look at it again.")
    if (job.error or "").startswith(WAITING_NOTE):
        ledger.set_job_error(job_id, None)  # its new time has not come yet


def cancel(ledger: Ledger, job_id: str, actor: str, reason: str = "") -> None:
    """Cancel a job before its time: settled like a rejection (nothing sent, rows not
    applied), audited."""
    job = _changeable(ledger, job_id)
    why = f": {reason.strip()}" if reason.strip() else ""
    verdict = f"Cancelled by {actor} before its scheduled time{why}"
    detail = {"scheduled_at": job.scheduled_at, "reason": reason.strip(),
              "submitter": job.actor}
    if not ledger.set_job_state(job_id, lg.JOB_REJECTED, expect=(job.state,), error=verdict,
                                actor=actor, detail={**detail, "cancelled": True},
                                unsent=f"Not sent: {verdict[0].lower()}{verdict[1:]}"):
        raise ScheduleError(f"Job {job_id} started or changed a moment ago; look at it again.")
    ledger.audit(actor, CANCELLED, job_id, detail)


def was_cancelled(ledger: Ledger, job_id: str) -> bool:
    """Whether the job was cancelled before its time (a second click on "Cancel" finds it
    so, and is told it is done rather than that it failed)."""
    return any(e.action == CANCELLED for e in ledger.audit_entries(job_id, action=CANCELLED))


# --- the Jobs list --------------------------------------------------------------------------

# A job with a time that has not started yet: scheduled, or held for an approver.
WAITING_STATES = (lg.JOB_SCHEDULED, lg.JOB_AWAITING_APPROVAL)


class _Timed(Protocol):
    """A job or a job summary: anything with an id, a state and a scheduled time."""

    @property
    def id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def scheduled_at(self) -> float | None: ...


T = TypeVar("T", bound=_Timed)


def upcoming_first(jobs: list[T]) -> list[T]:
    """Jobs waiting for their time first (soonest at the top), then the rest as given."""
    upcoming = sorted((j for j in jobs if j.scheduled_at is not None
                       and j.state in WAITING_STATES), key=lambda j: j.scheduled_at or 0.0)
    ids = {j.id for j in upcoming}
    return upcoming + [j for j in jobs if j.id not in ids]


def any_upcoming(jobs: Sequence[_Timed]) -> bool:
    """Whether the Jobs list must keep refreshing: a countdown runs, a job will start."""
    return any(j.scheduled_at is not None and j.state in WAITING_STATES for j in jobs)


def list_state(job: _Timed, text: str) -> str:
    """The Jobs list's state cell: a scheduled job says when it starts."""
    if job.scheduled_at is None or job.state not in WAITING_STATES:
        return text
    return f"{text} · starts {countdown(job.scheduled_at, time.time())}"
