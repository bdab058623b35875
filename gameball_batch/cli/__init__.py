"""The ``python -m gameball_batch`` command group.

Each sub-module holds the commands it registers: ``intake`` (types, template, validate),
``sandbox`` (run the emulator), ``jobs`` (submit, status, jobs, resume, runner, stop,
retry-failed, export-failed), ``schedule`` (reschedule, cancel), ``verify`` (verify,
resolve, undo), ``ledger`` (copy).
Exit codes everywhere: 0 success, 1 invalid input, 2 usage or
configuration error, 3 finished with failed or in-doubt rows.

The group starts light: a command's module is imported only when that command runs, and
``--help`` lists the commands from :data:`COMMANDS` without importing any of them. So
``validate`` and ``types`` never load the ledger, the HTTP client, the sandbox's web stack,
plotly or streamlit (``tests/unit/test_cli_startup.py`` checks both, and that
:data:`COMMANDS` matches what the modules register).

``python -m gameball_batch`` runs :func:`run`, which lets a command that holds nothing to
close (``validate``: see :func:`end_without_teardown`) end its process without freeing its
objects one by one.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3

# name -> (module under gameball_batch.cli, attribute, the one-line help --help shows)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "types": ("intake", "types_command",
        "List the batch types, their endpoints and fields (* = required)."),
    "template": ("intake", "template_command",
        "Write an example file for SLUG that validates cleanly."),
    "validate": ("intake", "validate_command",
        "Check FILE as a batch of type --type; nothing is sent."),
    "sandbox": ("sandbox", "sandbox", "Run the local Gameball sandbox until Ctrl-C."),
    "submit": ("jobs", "submit",
        "Validate FILE and send its rows to Gameball as one job (now, or --at a time)."),
    "status": ("jobs", "status", "The state of JOB and how many of its rows are in each state."),
    "jobs": ("jobs", "list_jobs", "Recent jobs, newest first."),
    "resume": ("jobs", "resume",
        "Continue JOB: a paused job is queued again; with --wait, drive it here."),
    "stop": ("jobs", "stop", "Stop sending JOB (--abort: also stop it at Gameball)."),
    "runner": ("jobs", "runner_command",
        "Send every queued job of this Gameball account, headless, until stopped."),
    "retry-failed": ("jobs", "retry_failed",
        "Make the one retry job of JOB's failed and not-applied rows (same ids, linked)."),
    "export-failed": ("jobs", "export_failed",
        "Write the failed rows of JOB, as sent plus an error column, to fix and "
        "re-import."),
    "reschedule": ("schedule", "reschedule",
        "Move scheduled JOB to another time (until it starts); audited."),
    "cancel": ("schedule", "cancel",
        "Cancel scheduled JOB before it starts: nothing is sent; audited."),
    "verify": ("verify", "verify_command",
        "Ask Gameball what happened to JOB's rows in doubt (or every row with --all)."),
    "resolve": ("verify", "resolve_command",
        "Settle JOB's rows in doubt: by Gameball's evidence, or one decision for chunks."),
    "undo": ("verify", "undo_command",
        "Create the job that reverses JOB's applied adjustments (amounts negated)."),
    "ledger": ("ledger", "ledger_group",
        "The job ledger itself: copy it into a new database (SQLite to PostgreSQL)."),
}
MODULES = ("intake", "sandbox", "jobs", "schedule", "verify", "ledger")


def _module(name: str) -> object | None:
    try:
        return importlib.import_module(f"gameball_batch.cli.{name}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"gameball_batch.cli.{name}":
            raise
        return None


class LazyGroup(click.Group):
    """A click group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        spec = COMMANDS.get(cmd_name)
        if spec is not None:
            module = _module(spec[0])
            command = getattr(module, spec[1], None) if module is not None else None
            if isinstance(command, click.Command):
                return command
        # A command a module registers but COMMANDS does not list yet: load every module.
        self.load_all()
        return self.commands.get(cmd_name)

    def load_all(self) -> None:
        """Register every module's commands (what the group held before it was lazy)."""
        for name in MODULES:
            module = _module(name)
            register = getattr(module, "register", None)
            if register is not None:
                register(self)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        rows += [(name, cmd.get_short_help_str()) for name, cmd in sorted(self.commands.items())
                 if name not in COMMANDS and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gameball-batch", message="%(version)s")
def main() -> None:
    """Push spreadsheets into Gameball's Batch API, every row exactly once."""


_own_process = False
_skip_teardown = False


def own_process() -> bool:
    """Whether this process was started as the command line (:func:`run`), so a command
    may tune it for itself; False for a caller of :data:`main` in its own process (tests,
    ``CliRunner``, another program)."""
    return _own_process


def end_without_teardown() -> None:
    """Say this process has nothing left to close: when the command exits, :func:`run`
    flushes standard output and error and ends the process at once, with the same exit
    code. Freeing a big file's tables object by object at interpreter exit costs ~0.2–0.3 s
    (``bench/README.md``, issue 18); a command that holds a ledger, a thread or an open file
    must not call this. Only :func:`run` (the real process) acts on it; a caller of
    :data:`main` in process (tests, ``CliRunner``) is not affected."""
    global _skip_teardown
    _skip_teardown = True


def run() -> None:
    """The process entry point (``python -m gameball_batch``, the ``gameball-batch`` script)."""
    global _own_process
    _own_process = True
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        if _skip_teardown and (code is None or isinstance(code, int)):
            try:
                for stream in (sys.stdout, sys.stderr):
                    if stream is not None:
                        stream.flush()
            except (OSError, ValueError):
                raise exc from None  # the usual exit reports a closed or broken stream
            os._exit(code or 0)
        raise
