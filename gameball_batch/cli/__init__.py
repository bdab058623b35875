"""The ``python -m gameball_batch`` command group.

Each sub-module registers the commands it holds: ``intake`` (types, template, validate),
``sandbox`` (run the emulator), ``jobs`` (submit, status, jobs, resume, stop, retry-failed,
export-failed), ``schedule`` (reschedule, cancel). Exit codes everywhere: 0 success,
1 invalid input, 2 usage or configuration error, 3 finished with failed or in-doubt rows.
"""

from __future__ import annotations

import importlib

import click

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gameball-batch", message="%(version)s")
def main() -> None:
    """Push spreadsheets into Gameball's Batch API, every row exactly once."""


for _name in ("intake", "sandbox", "jobs", "schedule", "verify"):
    try:
        _module = importlib.import_module(f"gameball_batch.cli.{_name}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"gameball_batch.cli.{_name}":
            raise
        continue
    _module.register(main)
