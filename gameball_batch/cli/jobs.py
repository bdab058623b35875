"""CLI commands for jobs: submit, status, jobs, resume, stop, retry-failed, export-failed.

Credentials come from ``GAMEBALL_API_KEY`` / ``GAMEBALL_SECRET_KEY`` (base URL from
``GAMEBALL_BASE_URL``) through :func:`gameball_batch.settings.load_settings`; with none, the
commands that send start the embedded sandbox and say so on stderr. The ledger is ``--db`` or
``GAMEBALL_BATCH_DB``. Exit codes: 0 every row applied, 1 invalid input, 2 usage or
configuration error, 3 finished with failed or in-doubt rows.

This module must not hold submission logic (runner.py, jobs.py do), print a traceback, or
print a key: keys stay inside :class:`Secret` and the client.
"""

from __future__ import annotations

import functools
import getpass
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from gameball_batch import batch_types, jobs, notify
from gameball_batch import ledger as lg
from gameball_batch.batch_types import BATCH_TYPES, BatchType, UnknownBatchType
from gameball_batch.cli import EXIT_INVALID, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from gameball_batch.cli.intake import Reading, read_and_validate, reading_options
from gameball_batch.ledger import Ledger, LedgerError
from gameball_batch.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])
MAX_ISSUES_SHOWN = 30


class Failure(Exception):
    """End the command with a message on stderr and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int) -> NoReturn:
    raise Failure(message, code)


def _guarded(func: F) -> F:
    """Operator messages and exit codes instead of tracebacks."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Failure as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.code)
        except (LedgerError, UnknownBatchType) as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except jobs.JobError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("Interrupted. The job is safe in the ledger; continue it with "
                       "`resume JOB --wait`.", err=True)
            sys.exit(130)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as exc:  # never a traceback for an operator
            click.echo(f"Error: {type(exc).__name__}: {exc}", err=True)
            sys.exit(EXIT_INVALID if isinstance(exc, ValueError) else EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


# --- shared plumbing -------------------------------------------------------------------------


def _settings(db: str | None) -> Settings:
    try:
        settings = load_settings()
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    return settings.with_ledger(db) if db else settings


@contextmanager
def _ledger(settings: Settings) -> Iterator[Ledger]:
    try:
        ledger = settings.open_ledger()
    except lg.LedgerError as exc:
        _fail(str(exc), EXIT_USAGE)
    try:
        yield ledger
    finally:
        ledger.close()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


@dataclass
class _Target:
    factory: Callable[[], Any]
    sandbox: Any | None  # the embedded SandboxServer when no credentials are set
    url: str
    target: lg.Target  # what jobs sent here record (never the key itself)


@contextmanager
def _target(settings: Settings, ledger: Ledger | None = None) -> Iterator[_Target]:
    """The Gameball account from the settings, or an embedded sandbox for this process."""
    from gameball_batch.client import GameballClient, RateLimit
    from gameball_batch.client.ratelimit import limiter_for
    from gameball_batch.client.sansio import pinned_paths

    rule = RateLimit(per_second=settings.rate_per_second, per_30s=settings.rate_per_30s,
                     shared=settings.rate_shared)

    def limit(url: str, api_key: str) -> Any:
        """One budget per account, shared with every process on a PostgreSQL ledger."""
        return limiter_for(rule, ledger, f"{url}|{lg.key_fingerprint(api_key)}")
    paths = pinned_paths(settings.routes)  # None: the client finds the pair that answers

    def memory(url: str) -> dict[str, Any]:
        """The pair found before for this Gameball, kept in the ledger (when one is open)."""
        if paths is not None or ledger is None:
            return {}
        return {"remembered_routes": ledger.remembered_routes(url),
                "on_routes": functools.partial(ledger.remember_routes, url)}
    if not settings.use_sandbox:
        api_key, secret_key = settings.api_key, settings.secret_key
        if secret_key is None:
            _fail("GAMEBALL_SECRET_KEY is not set: batch endpoints need both keys.", EXIT_USAGE)
        assert api_key is not None

        def real() -> Any:
            return GameballClient(settings.base_url, api_key, secret_key,
                                  rate_limit=limit(settings.base_url, api_key.reveal()),
                                  paths=paths, **memory(settings.base_url))

        yield _Target(real, None, settings.base_url,
                      lg.Target.of(sandbox=False, base_url=settings.base_url,
                                   api_key=api_key.reveal()))
        return
    from gameball_batch.sandbox.shared import LocalSandboxError, local_sandbox

    try:
        server = local_sandbox(settings.db_path.parent, settings.sandbox_port,
                               item_rate=settings.sandbox_rate,
                               seed_customers=settings.sandbox_seed_customers)
    except LocalSandboxError as exc:
        _fail(str(exc), EXIT_USAGE)
    url = server.base_url
    how = ("ends with this command (its state is kept)" if server.owned
           else "is the one the console started")
    click.echo(f"No Gameball credentials set (GAMEBALL_API_KEY): using the embedded sandbox at "
               f"{url}. Nothing reaches Gameball; the sandbox {how}.", err=True)

    def sandboxed() -> Any:
        return GameballClient(url, server.api_key, server.secret_key,
                              rate_limit=limit(url, server.api_key), paths=paths,
                              **memory(url))

    try:
        yield _Target(sandboxed, server, url,
                      lg.Target.of(sandbox=True, base_url=url, api_key=server.api_key))
    finally:
        server.close()


def _runner(ledger: Ledger, target: _Target, settings: Settings,
            max_jobs: int | None = None) -> Any:
    from gameball_batch.runner import Runner
    from gameball_batch.snapshots import hook_for

    return Runner(ledger, target.factory, concurrency=settings.concurrency, poll_initial=0.2,
                  poll_max=5.0, target=target.target, before_send=hook_for(settings.extra),
                  max_jobs=max_jobs)


def _drive(ledger: Ledger, runner: Any, job_id: str, *, show_progress: bool,
           timeout: float | None = None) -> None:
    """Drive the job in a worker thread; show a progress bar on a terminal meanwhile.

    ``timeout``: leave the job (resumable, its lease released) after that many seconds.
    """
    errors: list[BaseException] = []

    def work() -> None:
        try:
            runner.run_until_idle(job_id, timeout=timeout)
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    worker = threading.Thread(target=work, name="gameball-cli-drive", daemon=True)
    signals = notify.start(ledger, _settings(None).extra)  # team signals while it runs
    worker.start()
    try:
        if show_progress:
            _progress(ledger, job_id, worker)
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        runner.halt()
        worker.join(30)
        raise
    finally:
        notify.finish(signals)  # this job's events go out before the command ends
        runner.stop()
    if errors and isinstance(errors[0], TimeoutError):
        click.echo(f"Stopped waiting after {timeout:g} s; the job goes on with the next "
                   "runner (`resume JOB --wait`, or the console).", err=True)
    elif errors:
        raise errors[0]


def _progress(ledger: Ledger, job_id: str, worker: threading.Thread) -> None:
    total = jobs.summary(ledger, job_id).row_count
    with click.progressbar(length=total, label="Sending", file=sys.stderr,
                           show_pos=True) as bar:
        shown = 0
        while worker.is_alive():
            worker.join(0.5)
            done = jobs.summary(ledger, job_id).done_rows
            bar.update(done - shown)
            shown = done


def _outcome_code(summary: jobs.JobSummary) -> int:
    if summary.all_applied:
        return EXIT_OK
    if summary.state == lg.JOB_PAUSED and summary.error:
        return EXIT_USAGE  # paused by a refusal of the connection settings (keys, URL)
    if summary.settled or summary.state == lg.JOB_PAUSED:
        return EXIT_PARTIAL
    return EXIT_OK  # still queued or running elsewhere: nothing went wrong yet


def _print_summary(summary: jobs.JobSummary, *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2, default=str))
        return
    click.echo(f"Job {summary.id} — {summary.title}, {summary.file_name}: {summary.state}")
    counts = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in summary.rows.items() if v)
    click.echo(f"  rows ({summary.row_count:,}): {counts or 'none'}")
    if summary.error:
        click.echo(f"  note: {summary.error}")
    if summary.parent_job_id:
        click.echo(f"  retry of job {summary.parent_job_id}")


def _stdin_is_terminal() -> bool:
    try:
        return bool(click.get_text_stream("stdin").isatty())
    except (AttributeError, ValueError):
        return False


def _db_option(func: F) -> F:
    return click.option("--db", "db", type=str,
                        help="Ledger: a file, or a postgresql:// URL (default: "
                             "GAMEBALL_BATCH_DB, [ledger] url, or "
                             "~/.gameball-batch/ledger.db).")(func)


# --- submit ----------------------------------------------------------------------------------


@dataclass
class _Prepared:
    bt: BatchType
    table: Any
    mapping: dict[str, str]
    result: Any
    plan: Any
    impact: Any


def _prepare(path: Path, slug: str, reading: Reading,
             settings: Settings | None = None) -> _Prepared:
    """Read, map, validate and plan the file; invalid input ends the command with exit 1.

    Read exactly as ``validate`` reads it (the same reading options, one function)."""
    from gameball_batch import impact as impact_mod
    from gameball_batch import payloads

    if slug not in BATCH_TYPES:
        _fail(f"Unknown batch type '{slug}'. Choose one of: {', '.join(BATCH_TYPES)}.",
              EXIT_USAGE)
    limits = settings or Settings()
    read = read_and_validate(BATCH_TYPES[slug], path, reading, _fail, unreadable=EXIT_INVALID,
                             max_bytes=limits.max_upload_mb * 1024 * 1024,
                             max_rows=limits.max_rows)
    for note in read.notes()[:3]:  # how the file was read: encoding, header row, kinds
        click.echo(f"note: {note}", err=True)
    result = read.result
    plan = payloads.plan_chunks(result) if not len(result.issues) else None
    return _Prepared(BATCH_TYPES[slug], read.table, read.mapping, result, plan,
                     impact_mod.assess(result))


def _report_issues(result: Any, *, as_json: bool) -> NoReturn:
    issues = result.issues
    if as_json:
        records = issues.astype(object).where(issues.notna(), None).to_dict("records")
        click.echo(json.dumps({"ok": False, "invalid_rows": len(result.invalid_rows),
                               "issues": records}, indent=2, default=str))
    else:
        click.echo(f"{len(result.invalid_rows):,} of {result.total_rows:,} rows cannot be sent:",
                   err=True)
        for rec in issues.head(MAX_ISSUES_SHOWN).itertuples(index=False):
            where = f"row {rec.row}" + (f", column '{rec.column}'" if rec.column else "")
            click.echo(f"  {where}: {rec.message}", err=True)
        if len(issues) > MAX_ISSUES_SHOWN:
            click.echo(f"  … and {len(issues) - MAX_ISSUES_SHOWN:,} more.", err=True)
        click.echo("Fix the file and submit it again; nothing was sent.", err=True)
    sys.exit(EXIT_INVALID)


def _impact_lines(prep: _Prepared, target_url: str | None) -> list[str]:
    impact, plan = prep.impact, prep.plan
    lines = [
        f"{prep.bt.title}: {impact.rows:,} rows as {plan.item_count:,} items in "
        f"{len(plan.chunks):,} request(s), {impact.customers:,} customers.",
    ]
    for value in impact.values:
        spec = prep.bt.spec_for(value.field)
        label = spec.label if spec else value.field
        lines.append(f"  total {label.lower()}: {value.total:,.2f} ({value.unit})")
    lines += [f"  warning: {w}" for w in impact.warnings]
    note = plan.repeated_customer_note()
    if note:
        lines.append(f"  note: {note}")
    if target_url:
        lines.append(f"  sending to {target_url}")
    return lines


def _confirm(prep: _Prepared, settings: Settings) -> None:
    where = "the embedded sandbox" if settings.use_sandbox else settings.base_url
    for line in _impact_lines(prep, where):
        click.echo(line, err=True)
    if not _stdin_is_terminal():
        _fail("No terminal to ask for confirmation: pass --yes to submit.", EXIT_USAGE)
    if not click.confirm("Send these rows?", default=False, err=True):
        _fail("Nothing was sent.", EXIT_USAGE)


@click.command("submit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "slug", required=True, metavar="SLUG",
              help=f"Batch type: {', '.join(BATCH_TYPES)}.")
@click.option("--wait", is_flag=True, help="Send now and wait for every result.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("--override-duplicates", "override", metavar="REASON",
              help="Send even though this file, or rows with the same business keys, were "
                   "sent before; the reason goes into the audit log.")
@click.option("--at", "at_text", metavar="TIME",
              help="Send at this time instead of now (2026-12-04T09:00+02:00).")
@_db_option
@reading_options
@_guarded
def submit(file: Path, slug: str, reading: Reading, wait: bool,
           yes: bool, as_json: bool, override: str | None, at_text: str | None,
           db: str | None) -> None:
    """Validate FILE and send its rows to Gameball as one job (now, or --at a time)."""
    settings = _settings(db)
    at = _scheduled_at(at_text, settings)
    prep = _prepare(file, slug, reading, settings)
    if prep.plan is None:
        _report_issues(prep.result, as_json=as_json)
    with _ledger(settings) as ledger, _target(settings, ledger) as target:
        submission = _submit_guarded(ledger, prep, file, settings, override, confirm=not yes,
                                     target=target.target, scheduled_at=at)
        job_id = submission.job_id
        if at is not None:
            _scheduled_notice(submission, settings)
            _print_summary(jobs.summary(ledger, job_id), as_json=as_json)
            sys.exit(EXIT_OK)
        if submission.awaiting_approval:
            click.echo(f"Created job {job_id}; it waits for an approver (" +
                       "; ".join(submission.approval_reasons) + "). Nothing is sent until "
                       "someone else approves it in the console.", err=True)
            _print_summary(jobs.summary(ledger, job_id), as_json=as_json)
            sys.exit(EXIT_OK)
        if not as_json:
            click.echo(f"Created job {job_id}.", err=True)
        if wait or settings.use_sandbox:
            runner = _runner(ledger, target, settings)
            _drive(ledger, runner, job_id, show_progress=_show_progress(as_json))
        else:
            click.echo("Queued. Run `resume JOB --wait` here, or let the console's runner send "
                       "it.", err=True)
        outcome = jobs.summary(ledger, job_id)
        _print_summary(outcome, as_json=as_json)
    sys.exit(_outcome_code(outcome) if outcome.settled or wait else EXIT_OK)


def _scheduled_at(at_text: str | None, settings: Settings) -> float | None:
    from gameball_batch.cli.schedule import parse_at

    return None if at_text is None else parse_at(at_text, settings)


def _scheduled_notice(submission: Any, settings: Settings) -> None:
    from gameball_batch.cli.schedule import when_text

    wait = " once approved (it waits for an approver)" if submission.awaiting_approval else ""
    click.echo(f"Created job {submission.job_id}, scheduled for "
               f"{when_text(submission.scheduled_at, settings)}: a running console starts "
               f"it then{wait}. Change it with `reschedule` or `cancel`.", err=True)


def _submit_guarded(ledger: Ledger, prep: _Prepared, file: Path, settings: Settings,
                    override: str | None, *, confirm: bool, target: lg.Target,
                    scheduled_at: float | None = None) -> Any:
    """Duplicate guards and approval rules (approval_flow.submit): the console's path."""
    from gameball_batch import approval_flow, guards

    keys = guards.business_keys(prep.result, prep.mapping)
    report = guards.check(ledger, batch_type=prep.bt, fingerprint=prep.table.fingerprint,
                          keys=keys, key_fields=guards.key_fields_for(prep.bt, prep.mapping),
                          days=guards.duplicate_days(settings.extra), target=target,
                          ids=guards.file_ids(prep.result))
    if report.blocked and not (override or "").strip():
        _fail("\n".join([*report.lines(), 'Nothing was sent. To send anyway, pass '
                         '--override-duplicates "REASON" (recorded in the audit log).']),
              EXIT_INVALID)
    try:
        rules = approval_flow.rules_from_settings(settings.extra)
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    if confirm:
        _confirm(prep, settings)
    return approval_flow.submit(
        ledger, prep.plan, impact=prep.impact, frame=prep.table.frame, file_name=file.name,
        fingerprint=prep.table.fingerprint, mapping=prep.mapping, actor=_actor(), rules=rules,
        duplicates=report, keys=keys, override_reason=override, sheet=prep.table.sheet,
        target=target, scheduled_at=scheduled_at, reading=_reading_record(prep),
    )


def _reading_record(prep: _Prepared) -> str:
    """How the file was read, stored with the job (its review and history show it)."""
    from gameball_batch import validate
    from gameball_batch.ingest import encoding_label

    return validate.describe_reading({**prep.result.reading,
                                      "header_row": prep.table.header_row,
                                      "encoding": encoding_label(prep.table.encoding)})


def _show_progress(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()


# --- status, jobs ----------------------------------------------------------------------------


@click.command("status")
@click.argument("job_id", metavar="JOB")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_db_option
@_guarded
def status(job_id: str, as_json: bool, db: str | None) -> None:
    """The state of JOB and how many of its rows are in each state."""
    with _ledger(_settings(db)) as ledger:
        job_id = jobs.resolve_job_id(ledger, job_id)  # a unique short id works too
        summary = jobs.summary(ledger, job_id)
        _print_summary(summary, as_json=as_json)
        if not as_json:
            for chunk in jobs.in_doubt(ledger, job_id):
                click.echo(f"  in doubt: chunk {chunk.index + 1}, {len(chunk.rows)} row(s) "
                           f"— {chunk.error or 'no result reported'}")


@click.command("jobs")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=50, show_default=True, help="How many recent jobs.")
@_db_option
@_guarded
def list_jobs(as_json: bool, limit: int, db: str | None) -> None:
    """Recent jobs, newest first."""
    with _ledger(_settings(db)) as ledger:
        summaries = jobs.list_jobs(ledger, limit=limit)
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in summaries], indent=2, default=str))
        return
    if not summaries:
        click.echo("No jobs yet.")
    for s in summaries:
        click.echo(f"{s.id}  {s.batch_type:<17} {s.state:<14} "
                   f"{s.rows.get('applied', 0):>9,}/{s.row_count:<9,} {s.file_name}")


# --- resume, stop, retry, export -------------------------------------------------------------


@click.command("resume")
@click.argument("job_id", metavar="JOB")
@click.option("--wait", is_flag=True, help="Drive the job here until it settles.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="With --wait: stop waiting after this long (the job stays resumable).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@_db_option
@_guarded
def resume(job_id: str, wait: bool, timeout: float | None, as_json: bool,
           db: str | None) -> None:
    """Continue JOB: a paused job is queued again; with --wait, drive it here."""
    settings = _settings(db)
    with _ledger(settings) as ledger:
        job_id = jobs.resolve_job_id(ledger, job_id)  # a unique short id works too
        before = jobs.summary(ledger, job_id)
        if before.state in (lg.JOB_SCHEDULED, lg.JOB_AWAITING_APPROVAL):
            _print_summary(before, as_json=as_json)  # nothing to drive yet: never hang
            click.echo("It waits (for its time, or an approver): a running console starts "
                       "it then. Change it with `reschedule` or `cancel`.", err=True)
            sys.exit(EXIT_OK)
        if before.state == lg.JOB_PAUSED:
            jobs.resume(ledger, job_id, _actor())
        if wait or settings.use_sandbox:
            with _target(settings, ledger) as target:
                _drive(ledger, _runner(ledger, target, settings), job_id,
                       show_progress=_show_progress(as_json), timeout=timeout)
        outcome = jobs.summary(ledger, job_id)
        _print_summary(outcome, as_json=as_json)
    sys.exit(_outcome_code(outcome) if wait else EXIT_OK)


@click.command("runner")
@click.option("--for", "seconds", type=click.FloatRange(min=0.1), default=None,
              metavar="SECONDS", help="Stop after this long (default: until stopped).")
@click.option("--jobs", "max_jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Send at most N jobs at once; leave the rest to other workers.")
@_db_option
@_guarded
def runner_command(seconds: float | None, max_jobs: int | None, db: str | None) -> None:
    """Send every queued job of this Gameball account, headless, until stopped.

    For deployments that keep sending apart from the console: any number of these (and
    consoles) may share one PostgreSQL ledger; each job is sent by the one holding its
    lease, and a job whose runner dies is taken over when its lease runs out. Stops on
    Ctrl-C or SIGTERM after the requests in flight are answered (the jobs stay resumable).
    """
    import signal

    settings = _settings(db)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with _ledger(settings) as ledger, _target(settings, ledger) as target:
        runner = _runner(ledger, target, settings, max_jobs=max_jobs)
        runner.start()
        click.echo(f"Runner {runner.owner_id}: sending the queued jobs of "
                   f"{target.target.label} from the ledger {settings.ledger_label}. "
                   "Ctrl-C stops it.", err=True)
        stop.wait(seconds)
        runner.stop()
        click.echo(f"Runner {runner.owner_id} stopped; unfinished jobs stay queued.",
                   err=True)
    sys.exit(EXIT_OK)


@click.command("stop")
@click.argument("job_id", metavar="JOB")
@click.option("--abort", is_flag=True,
              help="Emergency: also ask Gameball to stop the job's remote jobs. Rows they "
                   "do not report stay in doubt.")
@_db_option
@_guarded
def stop(job_id: str, abort: bool, db: str | None) -> None:
    """Stop sending JOB (--abort: also stop it at Gameball).

    Nothing new is sent; what Gameball accepted runs to its end, so every row's outcome
    stays known. --abort also asks Gameball to stop; rows it does not report stay in doubt.
    """
    settings = _settings(db)
    with _ledger(settings) as ledger:
        job_id = jobs.resolve_job_id(ledger, job_id)  # a unique short id works too
        if not jobs.request_stop(ledger, job_id, _actor(), abort=abort):
            click.echo(f"Job {job_id} is already {jobs.summary(ledger, job_id).state}.")
            return
        job = ledger.job(job_id)
        if job is not None and _held_by_live_runner(job, ledger.now()):
            click.echo("Stop requested; the runner sending this job stops it now.")
            return
        with _target(settings, ledger) as target:
            _drive(ledger, _runner(ledger, target, settings), job_id, show_progress=False)
        _print_summary(jobs.summary(ledger, job_id), as_json=False)


def _held_by_live_runner(job: lg.Job, now: float) -> bool:
    from gameball_batch.runner import owner_is_dead

    owner = job.lease_owner
    return owner is not None and (job.lease_expires or 0) > now and not owner_is_dead(owner)


def _confirm_retry(ledger: Ledger, job_id: str) -> bool:
    """Show a retry's impact and ask, as for a new file (unsafe types only)."""
    from gameball_batch import approval_flow

    impact = approval_flow.retry_impact(ledger, job_id)
    click.echo(f"Retry of job {job_id}: {impact.rows:,} item(s), {impact.customers:,} "
               "customer(s).", err=True)
    for value in impact.values:
        click.echo(f"  {value.field}: adds {value.positive_total:,.2f}, deducts "
                   f"{abs(value.negative_total):,.2f}, net {value.total:,.2f}", err=True)
    click.echo(f"  {impact.batch_type.title} are not safe to resend: check these rows were "
               "not applied before sending them again.", err=True)
    if not _stdin_is_terminal():
        _fail("No terminal to ask for confirmation: review the impact above and pass --yes.",
              EXIT_USAGE)
    if not click.confirm("Send this retry?", default=False, err=True):
        _fail("Nothing was created.", EXIT_USAGE)
    return True


@click.command("retry-failed")
@click.argument("job_id", metavar="JOB")
@click.option("--json", "as_json", is_flag=True, help="Print the new job as JSON.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (after reviewing).")
@_db_option
@_guarded
def retry_failed(job_id: str, as_json: bool, yes: bool, db: str | None) -> None:
    """Make the one retry job of JOB's failed and not-applied rows (same ids, linked).

    Adjustments and events are not safe to resend: their retry shows its impact and asks
    for confirmation (or --yes), and the approval rules apply, as for a new file.
    """
    from gameball_batch import approval_flow

    settings = _settings(db)
    with _ledger(settings) as ledger, _target(settings, ledger) as target:
        try:
            rules = approval_flow.rules_from_settings(settings.extra)
        except ValueError as exc:
            _fail(str(exc), EXIT_USAGE)
        job_id = jobs.resolve_job_id(ledger, job_id)  # a unique short id works too
        parent = ledger.job(job_id)
        confirmed = yes
        if parent is not None and not yes and not batch_types.get(
                parent.batch_type).resend_safe and ledger.retry_child(job_id) is None:
            confirmed = _confirm_retry(ledger, job_id)
        submission = approval_flow.retry(ledger, job_id, _actor(), rules=rules,
                                         target=target.target, confirmed=confirmed)
        child = submission.job_id
        summary = jobs.summary(ledger, child)
        if submission.awaiting_approval:
            click.echo("The retry waits for an approver (" +
                       "; ".join(submission.approval_reasons) + ").", err=True)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2, default=str))
        return
    click.echo(f"Created job {child} with {summary.row_count:,} rows from job {job_id}.")
    click.echo(f"Send it with: python -m gameball_batch resume {child} --wait")


@click.command("export-failed")
@click.argument("job_id", metavar="JOB")
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="File to write, .csv or .xlsx.")
@_db_option
@_guarded
def export_failed(job_id: str, output: Path, db: str | None) -> None:
    """Write the failed rows of JOB, as sent plus an error column, to fix and re-import."""
    with _ledger(_settings(db)) as ledger:
        job_id = jobs.resolve_job_id(ledger, job_id)  # a unique short id works too
        count = jobs.export_failed(ledger, job_id, output)
    click.echo(f"Wrote {count:,} row(s) to {output}.")


def register(group: click.Group) -> None:
    for command in (submit, status, list_jobs, resume, runner_command, stop, retry_failed,
                    export_failed):
        group.add_command(command)
