"""``python -m gameball_batch ledger …``: the ledger itself (moving it between backends)."""

from __future__ import annotations

import sys

import click

from gameball_batch.cli import EXIT_OK, EXIT_USAGE


@click.group("ledger")
def ledger_group() -> None:
    """The job ledger itself: copy it into a new database (SQLite to PostgreSQL)."""


@ledger_group.command("copy")
@click.option("--from", "source", required=True, metavar="LEDGER",
              help="The ledger to copy: a SQLite file or a postgresql:// URL.")
@click.option("--to", "target", required=True, metavar="LEDGER",
              help="An empty ledger to copy into: a postgresql:// URL or a new file.")
def copy_command(source: str, target: str) -> None:
    """Copy every job, chunk, row and audit entry, bytes unchanged, into an empty ledger.

    Refuses a target that holds anything. Ends by checking each table's row count and a
    SHA-256 over its rows on both sides. Stop every console and runner on the source first:
    a job sent while copying would be missing from the copy.
    """
    from pathlib import Path

    from gameball_batch.ledger import LedgerError, is_postgres, open_ledger
    from gameball_batch.ledger.copy import copy_ledger

    if not is_postgres(source) and not Path(source).expanduser().is_file():
        click.echo(f"Error: no ledger file at {source}.", err=True)
        sys.exit(EXIT_USAGE)
    try:
        with open_ledger(source if is_postgres(source) else str(Path(source).expanduser())) \
                as src, open_ledger(target) as dst:
            tables = copy_ledger(
                src, dst, progress=lambda name, n: click.echo(f"  {name}: {n:,} rows",
                                                              err=True))
    except LedgerError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    total = sum(t.rows for t in tables)
    click.echo(f"Copied {total:,} rows in {len(tables)} tables; every table's count and "
               "SHA-256 match.")
    sys.exit(EXIT_OK)


def register(group: click.Group) -> None:
    group.add_command(ledger_group)
