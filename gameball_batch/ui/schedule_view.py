"""Send at a time in the console: the review step's "Send now / Send at…", and on the Jobs
page a scheduled job's countdown with Reschedule and Cancel.

The decisions (valid times, zones, what rescheduling and cancelling do) are
:mod:`gameball_batch.schedule`'s; this module draws and calls it. The operator picks a
date, a time and a zone (default: ``[console] timezone``); the choice is shown in that zone
and in UTC, and stored as UTC. Times and zone names are shown as literal text.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from dataclasses import dataclass

import streamlit as st

from gameball_batch import ledger as lg
from gameball_batch import schedule
from gameball_batch.access import Role
from gameball_batch.schedule import any_upcoming, list_state, upcoming_first
from gameball_batch.ui import access_view, frame, services

log = logging.getLogger(__name__)

SC_MODE = "sc.mode"  # radio: send now / send at
SC_DATE = "sc.date"  # date input
SC_TIME = "sc.time"  # time input
SC_ZONE = "sc.zone"  # selectbox: IANA zone
SC_RE_DATE = "sc.re_date."  # + job id: reschedule date
SC_RE_TIME = "sc.re_time."  # + job id: reschedule time
SC_RE_ZONE = "sc.re_zone."  # + job id: reschedule zone
SC_RESCHEDULE = "sc.reschedule."  # + job id: button
SC_CANCEL_REASON = "sc.cancel_reason."  # + job id: text input
SC_CANCEL = "sc.cancel."  # + job id: button
SC_FLASH = "sc.flash"  # (ok, message) after a reschedule or cancel

NOW, AT = "Send now", "Send at…"
WAITING_STATES = schedule.WAITING_STATES


@dataclass(frozen=True)
class SendTime:
    """The review step's choice: ``at`` None means now; ``ok`` False blocks the submit."""

    at: float | None = None
    ok: bool = True


def _default_zone() -> str:
    return schedule.zone_name(services.get_settings().extra)


@st.cache_data(show_spinner=False)
def _zones() -> list[str]:
    return sorted(zoneinfo.available_timezones() | {"UTC"})


def _when_inputs(date_key: str, time_key: str, zone_key: str, start: float) -> float | None:
    """Date, time and zone widgets; the moment they name (None when it does not exist)."""
    zones = _zones()
    default = _default_zone()
    zone_name = st.session_state.get(zone_key) or default
    local = dt.datetime.fromtimestamp(start, schedule.zone(zone_name))
    left, middle, right = st.columns(3)
    day = left.date_input("Date", value=local.date(), key=date_key)
    clock = middle.time_input("Time", value=local.time().replace(second=0, microsecond=0),
                              step=60, key=time_key)
    zone = right.selectbox("Time zone", zones,
                           index=zones.index(default) if default in zones else 0, key=zone_key)
    if not isinstance(day, dt.date) or not isinstance(clock, dt.time):
        return None
    return schedule.from_local(day, clock, str(zone))


def send_time() -> SendTime:
    """The review step's "Send now" / "Send at…" (one call from the submit area)."""
    mode = st.radio("When", (NOW, AT), horizontal=True, key=SC_MODE)
    if mode == NOW:
        return SendTime()
    now = time.time()
    at = _when_inputs(SC_DATE, SC_TIME, SC_ZONE, now + 3600)
    if at is None:
        st.error("Choose a date and a time.")
        return SendTime(ok=False)
    try:
        schedule.check(at, now)
    except schedule.ScheduleError as exc:
        st.error(str(exc))
        return SendTime(ok=False)
    zone = str(st.session_state.get(SC_ZONE) or _default_zone())
    st.text(f"Sends at {schedule.local_text(at, zone)}, {schedule.countdown(at, now)}.")
    return SendTime(at=at)


# --- the Jobs page -------------------------------------------------------------------------

__all__ = ["any_upcoming", "job_panel", "list_state", "send_time", "upcoming_first"]


def job_panel(job: lg.Job, *, may_act: bool) -> None:
    """A scheduled job's time, its countdown, and (operators) Reschedule and Cancel."""
    flash = st.session_state.pop(SC_FLASH, None)
    if flash:
        (st.success if flash[0] else st.error)(flash[1])
    if job.scheduled_at is None or job.state not in WAITING_STATES:
        return
    zone = _default_zone()
    st.text(f"Scheduled for {schedule.local_text(job.scheduled_at, zone)}.")
    st.fragment(run_every=1.0)(_countdown)(job.id)
    if not may_act:
        return
    with st.expander("Reschedule or cancel"):
        at = _when_inputs(SC_RE_DATE + job.id, SC_RE_TIME + job.id, SC_RE_ZONE + job.id,
                          job.scheduled_at)
        st.button("Reschedule", key=SC_RESCHEDULE + job.id, on_click=_reschedule,
                  args=(job.id, at), disabled=at is None)
        st.text_input("Why cancel? (recorded in the audit log)", key=SC_CANCEL_REASON + job.id)
        st.button("Cancel this job", key=SC_CANCEL + job.id, on_click=_cancel,
                  args=(job.id,))


def _countdown(job_id: str) -> None:
    job = services.get_ledger().job(job_id)
    if job is None or job.scheduled_at is None or job.state not in WAITING_STATES:
        st.rerun(scope="app")  # it started, or was cancelled: redraw the whole job
        return
    left = schedule.countdown(job.scheduled_at, time.time())
    if job.state == lg.JOB_AWAITING_APPROVAL and job.scheduled_at <= time.time():
        st.text("Its time has come, but it is not approved yet: it starts once approved.")
    else:
        st.text(f"Starts {left}.")


def _operator() -> bool:
    """Checked again in each callback: a click must not outlive a role taken away."""
    try:
        if access_view.holds(Role.OPERATOR):
            return True
    except Exception:
        log.exception("reading the roles of the person at the console failed")
    st.session_state[SC_FLASH] = (False, "Only operators can reschedule or cancel a job.")
    return False


def _reschedule(job_id: str, at: float | None) -> None:
    if at is None or not _operator():
        return
    try:
        schedule.reschedule(services.get_ledger(), job_id, at, frame.identity().actor)
    except schedule.ScheduleError as exc:
        st.session_state[SC_FLASH] = (False, str(exc))
        return
    st.session_state[SC_FLASH] = (True, f"Rescheduled for "
                                        f"{schedule.local_text(at, _default_zone())}.")


def _cancel(job_id: str) -> None:
    if not _operator():
        return
    reason = str(st.session_state.get(SC_CANCEL_REASON + job_id, ""))
    ledger = services.get_ledger()
    try:
        schedule.cancel(ledger, job_id, frame.identity().actor, reason)
    except schedule.ScheduleError as exc:
        # A click that arrives twice (a double click, or a rerun racing the countdown)
        # finds the job cancelled already: that is the outcome asked for, not an error.
        if not schedule.was_cancelled(ledger, job_id):
            st.session_state[SC_FLASH] = (False, str(exc))
            return
    st.session_state[SC_FLASH] = (True, "Cancelled: nothing was sent.")
