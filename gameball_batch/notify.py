"""Team signals: tell chat (Slack-compatible webhooks) when a job needs someone, or ended.

Decoupled from everything that happens to jobs: a :class:`Notifier` tails the ledger's
**audit log**, maps audit actions to events (:func:`events_of`) and posts each event a
hook wants to that hook, once and in order. Each hook has its own cursor (the last audit
id it has dealt with, kept in the ledger's ``meta`` table) and its own thread, so a hook
that answers 500 or hangs delays no other hook, and never a job: nothing here runs in the
runner's threads. A restart continues after the cursor. Only one process on a ledger
delivers at a time (a lease in ``meta``), so the console and a CLI run do not both post.

Each delivery is retried with back-off and a timeout per attempt, then given up; every
attempt is an audit entry (``notify.attempt``: hook name, event, audit id, attempt,
status or error class, outcome). The payload is ``{"text": …}`` (Slack's incoming-webhook
shape, with a link to the job built from ``[console] base_url``) plus ``event`` and a
structured ``job`` object: ids, type, state, counts, submitter, how long it waited, totals.
Never a key, a webhook URL, a file name or row contents.

Settings (``.streamlit/secrets.toml``)::

    [console]
    base_url = "https://batch.shop.example"
    [notify]
    timeout_seconds = 5
    retries = 3
    [[notify.hooks]]
    name = "ops-chat"
    url = "https://hooks.slack.com/services/…"
    events = ["awaiting_approval", "needs_operator", "finished_problems"]

This module must not import streamlit. Webhook URLs are credentials: they are only sent
to, never shown, logged or audited (a hook is named by ``name`` and its host).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from gameball_batch import batch_types
from gameball_batch import ledger as lg
from gameball_batch.ledger import AuditEntry, Ledger

log = logging.getLogger(__name__)

EVENTS: dict[str, str] = {
    "awaiting_approval": "a job awaits approval",
    "approved": "a job was approved",
    "rejected": "a job was rejected",
    "scheduled_started": "a scheduled job started",
    "finished_ok": "a job finished with every row applied",
    "finished_problems": "a job finished with failed or in-doubt rows",
    "needs_operator": "a job needs an operator decision",
}
TEST = "test"
ATTEMPT = "notify.attempt"
DELIVERED, RETRYING, GAVE_UP = "delivered", "retrying", "gave_up"
ACTOR = "notifier"
_LEASE_KEY = "notify.lease"


class NotifyConfigError(ValueError):
    """The ``[notify]`` settings cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Hook:
    """One webhook: its name, where it posts (a credential) and the events it wants."""

    name: str
    url: str = field(repr=False)
    events: frozenset[str] = frozenset(EVENTS)

    @property
    def host(self) -> str:
        """What may be shown of the URL: its host, never its path (Slack's secret part)."""
        return urlsplit(self.url).hostname or "?"

    def wants(self, event: str) -> bool:
        return event == TEST or event in self.events


@dataclass(frozen=True)
class NotifySettings:
    hooks: tuple[Hook, ...] = ()
    console_url: str = ""  # [console] base_url: links in messages
    timeout: float = 5.0  # seconds per attempt
    retries: int = 3  # attempts after the first
    backoff: float = 2.0  # seconds before the first retry, doubling
    max_backoff: float = 300.0
    poll: float = 1.0  # seconds between looks at the audit log when idle


def _number(raw: Mapping[str, Any], key: str, default: float, low: float) -> float:
    value = raw.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = low - 1
    if number < low:
        raise NotifyConfigError(f"[notify] {key} must be a number of at least {low:g}, "
                                f"got '{value}'.")
    return number


def _section(extra: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = extra.get(name)
    return value if isinstance(value, Mapping) else {}


def settings_from(extra: Mapping[str, Any]) -> NotifySettings:
    """``[notify]`` and ``[console] base_url`` from the other secrets.toml sections."""
    console: Mapping[str, Any] = _section(extra, "console")
    raw: Mapping[str, Any] = _section(extra, "notify")
    entries = raw.get("hooks", [])
    if raw.get("webhook_url"):  # the one-hook shorthand: every event
        entries = [{"name": "default", "url": raw["webhook_url"]}, *entries]
    if not isinstance(entries, list):
        raise NotifyConfigError("[notify] hooks must be a list of [[notify.hooks]] tables.")
    hooks: list[Hook] = []
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, Mapping):
            raise NotifyConfigError(f"[[notify.hooks]] number {n} is not a table.")
        name = str(entry.get("name") or f"hook-{n}").strip()
        url = str(entry.get("url") or "").strip()
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise NotifyConfigError(f"[[notify.hooks]] '{name}' needs a url starting with "
                                    "https:// (the webhook's address).")
        wanted = entry.get("events", list(EVENTS))
        if isinstance(wanted, str):
            wanted = [wanted]
        unknown = [str(e) for e in wanted if str(e) not in EVENTS]
        if unknown:
            raise NotifyConfigError(f"[[notify.hooks]] '{name}': unknown event(s) "
                                    f"{', '.join(unknown)}; choose from {', '.join(EVENTS)}.")
        if any(h.name == name for h in hooks):
            raise NotifyConfigError(f"Two [[notify.hooks]] are named '{name}': give each "
                                    "its own name.")
        hooks.append(Hook(name, url, frozenset(str(e) for e in wanted)))
    return NotifySettings(
        hooks=tuple(hooks),
        console_url=str(console.get("base_url", "") or "").rstrip("/"),
        timeout=_number(raw, "timeout_seconds", 5.0, 0.1),
        retries=int(_number(raw, "retries", 3, 0)),
        backoff=_number(raw, "backoff_seconds", 2.0, 0.0),
        max_backoff=_number(raw, "max_backoff_seconds", 300.0, 0.0),
        poll=_number(raw, "poll_seconds", 1.0, 0.05),
    )


# --- events and messages -------------------------------------------------------------------


def _problems(rows: Mapping[str, Any]) -> bool:
    return any(int(rows.get(s, 0) or 0) for s in (lg.ROW_FAILED, lg.ROW_UNKNOWN,
                                                  lg.ROW_NOT_APPLIED, lg.ROW_PENDING))


def events_of(entry: AuditEntry) -> tuple[str, ...]:
    """The events an audit entry stands for (most stand for none)."""
    action = entry.action
    if action in ("approval.requested", "schedule.waiting_approval"):
        return ("awaiting_approval",)
    if action == "approval.approved":
        return ("approved",)
    if action == "approval.rejected":
        return ("rejected",)
    if action == "job.queued" and entry.detail.get("released"):
        return ("scheduled_started",)
    if action == "job.finished":
        rows = entry.detail.get("rows")
        bad = _problems(rows) if isinstance(rows, Mapping) else False
        return ("finished_problems",) if bad else ("finished_ok",)
    if action == "job.needs_operator":
        return ("needs_operator", "finished_problems")
    return ()


def duration_text(seconds: float) -> str:
    """"3 d 4 h", "2 h 5 min", "4 min", "less than a minute"."""
    s = max(int(seconds), 0)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "less than a minute"


def totals_text(totals: Mapping[str, Any]) -> str:
    """"amount 1,243.24, points 80": each value's net total (rows and customers apart)."""
    parts = [f"{k.removesuffix('.total')} {float(v):,.2f}" for k, v in totals.items()
             if k.endswith(".total") and isinstance(v, int | float)]
    return ", ".join(parts)


def _slack(text: str) -> str:
    """Text from people (names) as literal Slack text: no links, mentions or markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _iso(at: float | None) -> str | None:
    return None if at is None else dt.datetime.fromtimestamp(at, dt.UTC).isoformat()


def job_link(console_url: str, job_id: str) -> str:
    return f"{console_url}/jobs?job={job_id}" if console_url else ""


def job_object(ledger: Ledger, job: lg.Job, *, at: float, console_url: str,
               rows: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The structured part of a message: ids, counts and totals, never row contents."""
    counts = dict(rows) if rows is not None else ledger.row_counts(job.id)
    return {
        "id": job.id,
        "type": job.batch_type,
        "state": job.state,
        "submitter": job.actor,
        "created_at": _iso(job.created_at),
        "scheduled_at": _iso(job.scheduled_at),
        "waited_seconds": round(max(at - job.created_at, 0.0), 1),
        "row_count": job.row_count,
        "item_count": job.item_count,
        "rows": {k: int(v) for k, v in counts.items() if isinstance(v, int)},
        "totals": {k: v for k, v in job.totals.items() if isinstance(v, int | float)},
        "target": job.target.kind,
        "url": job_link(console_url, job.id),
    }


def message(ledger: Ledger, entry: AuditEntry, event: str,
            console_url: str) -> dict[str, Any] | None:
    """The payload for one event of one audit entry (None when its job is gone)."""
    job = ledger.job(entry.job_id or "")
    if job is None:
        return None
    rows = entry.detail.get("rows") if isinstance(entry.detail.get("rows"), Mapping) else None
    obj = job_object(ledger, job, at=entry.at, console_url=console_url, rows=rows)
    try:
        title = batch_types.get(job.batch_type).title
    except Exception:  # a type this version no longer knows: still say something
        title = job.batch_type
    name = f"{title} job {job.id[:8]}"
    who = _slack(job.actor or "someone")
    waited = duration_text(entry.at - job.created_at)
    totals = totals_text(job.totals)
    size = f"{job.row_count:,} rows" + (f", {totals}" if totals else "")
    counts = obj["rows"]
    if event == "awaiting_approval" and entry.action == "schedule.waiting_approval":
        text = (f"{name} ({size}) was scheduled for {_iso(job.scheduled_at)} but is not "
                f"approved yet, so it waits. Submitted by {who} {waited} ago.")
    elif event == "awaiting_approval":
        text = f"{name} ({size}) waits for approval. Submitted by {who}."
    elif event in ("approved", "rejected"):
        text = (f"{name} ({size}) was {event} by {_slack(entry.actor)}; submitted by {who}, "
                f"it waited {waited}.")
    elif event == "scheduled_started":
        text = f"Scheduled {name} ({size}) started; submitted by {who}."
    elif event == "finished_ok":
        text = f"{name} finished: all {job.row_count:,} rows applied ({size})."
    elif event == "needs_operator":
        text = (f"{name} needs an operator decision: {counts.get(lg.ROW_UNKNOWN, 0):,} of "
                f"{job.row_count:,} rows are in doubt.")
    else:
        text = (f"{name} finished with {counts.get(lg.ROW_FAILED, 0):,} failed, "
                f"{counts.get(lg.ROW_UNKNOWN, 0):,} in doubt and "
                f"{counts.get(lg.ROW_NOT_APPLIED, 0):,} not applied of {job.row_count:,} rows.")
    if obj["url"]:
        text += f" <{obj['url']}|Open job {job.id[:8]}>"
    return {"text": text, "event": event, "audit_id": entry.id, "at": _iso(entry.at),
            "job": obj}


def test_message(hook: Hook, console_url: str) -> dict[str, Any]:
    text = f"Test message from gameball-batch to the hook '{_slack(hook.name)}'."
    if console_url:
        text += f" <{console_url}|Open the console>"
    return {"text": text, "event": TEST, "job": None}


# --- delivery ------------------------------------------------------------------------------


def post(hook: Hook, payload: Mapping[str, Any], timeout: float) -> tuple[bool, str]:
    """One attempt: (delivered, what happened) — a status, or an error's class, never the
    URL (httpx puts it into its messages)."""
    try:
        reply = httpx.post(hook.url, content=json.dumps(payload).encode(), timeout=timeout,
                           headers={"Content-Type": "application/json"})
    except httpx.TimeoutException:
        return False, "timed out"
    except httpx.HTTPError as exc:
        return False, type(exc).__name__
    return reply.is_success, f"HTTP {reply.status_code}"


def send_test(ledger: Ledger, hook: Hook, settings: NotifySettings, actor: str) -> tuple[bool,
                                                                                       str]:
    """The Settings page's "Send a test message": one attempt, audited."""
    ok, what = post(hook, test_message(hook, settings.console_url), settings.timeout)
    ledger.audit(actor, ATTEMPT, None, {"hook": hook.name, "event": TEST, "attempt": 1,
                                        "result": what,
                                        "outcome": DELIVERED if ok else GAVE_UP})
    return ok, what


def last_attempts(ledger: Ledger, *, limit: int = 500) -> dict[str, AuditEntry]:
    """The latest delivery attempt per hook name (for the Settings page)."""
    last: dict[str, AuditEntry] = {}
    for entry in ledger.audit_entries(action=ATTEMPT, limit=limit):
        last[str(entry.detail.get("hook", ""))] = entry
    return last


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Notifier:
    """Delivers the events of the audit log to each hook, in a thread per hook.

    ``start()`` begins, ``stop()`` ends (an attempt in flight finishes within its timeout).
    """

    def __init__(self, ledger: Ledger, settings: NotifySettings, *,
                 lease_seconds: float = 15.0,
                 post_fn: Callable[[Hook, Mapping[str, Any], float], tuple[bool, str]] = post,
                 ) -> None:
        self.ledger = ledger
        self.settings = settings
        self.owner_id = _owner_id()
        self._lease_seconds = lease_seconds
        self._post = post_fn
        self._halt = threading.Event()
        self._leading = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads or not self.settings.hooks:
            return
        self._halt.clear()
        for hook in self.settings.hooks:
            self._cursor(hook)  # from now on: a new hook does not replay history
        self._threads = [threading.Thread(target=self._lead, name="gameball-notify-lease",
                                          daemon=True)]
        self._threads += [threading.Thread(target=self._run, args=(hook,), daemon=True,
                                           name=f"gameball-notify-{hook.name}")
                          for hook in self.settings.hooks]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._halt.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        self._release()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    # -- the lease: one delivering process per ledger --

    def _lead(self) -> None:
        while not self._halt.is_set():
            try:
                if self._take_lease():
                    self._leading.set()
                else:
                    self._leading.clear()
            except Exception:
                log.exception("notifier lease check failed")
                self._leading.clear()
            self._halt.wait(min(self._lease_seconds / 3, self.settings.poll))

    def _take_lease(self) -> bool:
        now = time.time()
        current = self.ledger.meta(_LEASE_KEY)
        if current is not None:
            owner, _, expires = current.rpartition("|")
            if owner != self.owner_id and float(expires or 0) > now:
                return False
        return self.ledger.swap_meta(_LEASE_KEY, current,
                                     f"{self.owner_id}|{now + self._lease_seconds}")

    def _release(self) -> None:
        current = self.ledger.meta(_LEASE_KEY)
        if current is not None and current.rpartition("|")[0] == self.owner_id:
            self.ledger.swap_meta(_LEASE_KEY, current, f"{self.owner_id}|0")
        self._leading.clear()

    # -- one hook --

    def _cursor(self, hook: Hook) -> int:
        key = f"notify.cursor.{hook.name}"
        raw = self.ledger.meta(key)
        if raw is None:
            start = self.ledger.last_audit_id()
            self.ledger.swap_meta(key, None, str(start))
            raw = self.ledger.meta(key) or str(start)
        return int(raw)

    def _advance(self, hook: Hook, old: int, new: int) -> bool:
        """Move the hook's cursor, unless another process moved it meanwhile."""
        return self.ledger.swap_meta(f"notify.cursor.{hook.name}", str(old), str(new))

    def _run(self, hook: Hook) -> None:
        while not self._halt.is_set():
            try:
                busy = self._leading.is_set() and self._step(hook)
            except Exception:  # never let a hook's thread die: it resumes from its cursor
                log.exception("notifying %s failed", hook.name)
                busy = False
            if not busy:
                self._halt.wait(self.settings.poll)

    def _step(self, hook: Hook) -> bool:
        """Deal with the entries after the hook's cursor; whether there were any."""
        cursor = self._cursor(hook)
        entries = self.ledger.audit_after(cursor, limit=200)
        seen = cursor
        for entry in entries:
            if self._halt.is_set() or not self._leading.is_set():
                break
            event = next((e for e in events_of(entry) if hook.wants(e)), None)
            seen = entry.id
            if event is None:
                continue  # most entries: moved past in one write after the batch
            self._deliver(hook, entry, event)  # one message per entry and hook
            if not self._advance(hook, cursor, seen):
                return True  # someone else moved it: read it again
            cursor = seen
        if seen != cursor:
            self._advance(hook, cursor, seen)
        return bool(entries)

    def _deliver(self, hook: Hook, entry: AuditEntry, event: str) -> None:
        payload = message(self.ledger, entry, event, self.settings.console_url)
        if payload is None:
            return
        s = self.settings
        for attempt in range(1, s.retries + 2):
            ok, what = self._post(hook, payload, s.timeout)
            last = ok or attempt > s.retries
            outcome = DELIVERED if ok else GAVE_UP if last else RETRYING
            self.ledger.audit(ACTOR, ATTEMPT, entry.job_id,
                              {"hook": hook.name, "event": event, "audit_id": entry.id,
                               "attempt": attempt, "result": what, "outcome": outcome})
            if last or self._halt.wait(min(s.backoff * 2 ** (attempt - 1), s.max_backoff)):
                return

    def drain(self, timeout: float) -> bool:
        """Wait (up to ``timeout`` seconds) until every hook has dealt with the audit log as
        it stands now: a CLI run delivers its job's events before it exits."""
        if not self.running:
            return True
        mark = self.ledger.last_audit_id()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._cursor(h) >= mark for h in self.settings.hooks):
                return True
            self._halt.wait(self.settings.poll)
        return False


def start(ledger: Ledger, extra: Mapping[str, Any]) -> Notifier | None:
    """A started notifier for this process (a CLI run); None without hooks, or with
    settings it cannot use (logged, never fatal: signals must not stop a job)."""
    try:
        settings = settings_from(extra)
    except NotifyConfigError as exc:
        log.warning("team signals are off: %s", exc)
        return None
    if not settings.hooks:
        return None
    notifier = Notifier(ledger, settings)
    notifier.start()
    return notifier


def finish(notifier: Notifier | None, *, drain_seconds: float = 5.0) -> None:
    """Deliver what is due (at most ``drain_seconds``), then stop; what is left goes out
    from the next notifier on this ledger (the cursors are in it)."""
    if notifier is not None:
        notifier.drain(drain_seconds)
        notifier.stop()
