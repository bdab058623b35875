"""Where a test's ledger lives: a SQLite file, or a schema of its own on a PostgreSQL server.

``scripts/test`` runs the suite twice: once as it always has (SQLite), then again with
``GB_TEST_LEDGER=postgresql`` and ``GB_TEST_PG_URL`` pointing at a throwaway server that
``scripts/pg_server`` started. A test names its ledger as it always did, by a file name in
its ``tmp_path``; :func:`ledger_target` turns that into what :func:`open_ledger` takes:

- SQLite: the path ``tmp_path / name``;
- PostgreSQL: the server's URL with ``options=-csearch_path=<schema>``, for a schema made
  on first use and named from a hash of the run's id and the path, so the same
  (tmp_path, name) is the same ledger all through a run (a test that reopens "the same file"
  reopens the same schema), and two names are two ledgers.

Tests about SQLite itself (WAL, fsync, network filesystems, raw ``sqlite3`` access to the
file, migrations from old SQLite schemas) carry ``@pytest.mark.sqlite_only``; the PostgreSQL
pass skips them (see ``tests/conftest.py``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from gameball_batch.ledger import Ledger, open_ledger

BACKEND = os.environ.get("GB_TEST_LEDGER", "sqlite")
if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"GB_TEST_LEDGER={BACKEND!r}: expected 'sqlite' or 'postgresql'")

ON_POSTGRES = BACKEND == "postgresql"
SQLITE_ONLY_REASON = "about SQLite itself; this pass runs on PostgreSQL (GB_TEST_LEDGER)"

URL_SCHEMES = ("postgresql://", "postgres://")

# One run's schemas are its own, even on a server kept across runs (and with a --basetemp
# that repeats paths); subprocesses inherit the id, so they name the same schemas.
RUN_ID = os.environ.setdefault("GB_TEST_RUN_ID", os.urandom(6).hex())


def is_url(where: str | Path) -> bool:
    return isinstance(where, str) and where.startswith(URL_SCHEMES)



def server_url() -> str:
    """The throwaway server's URL (``scripts/pg_server`` exports it). Never a silent skip:
    a PostgreSQL pass without a server is a broken run."""
    url = os.environ.get("GB_TEST_PG_URL", "")
    if not is_url(url):
        raise RuntimeError(
            "GB_TEST_LEDGER=postgresql needs GB_TEST_PG_URL=postgresql://… (run the suite "
            "through scripts/test, which starts a throwaway server with scripts/pg_server)")
    return url


def schema_for(tmp_path: Path, name: str) -> str:
    """A schema name of [a-z0-9_], the same for the same path within a run, distinct for
    another path or another run."""
    where = f"{RUN_ID}\0{Path(tmp_path).resolve() / name}"
    digest = hashlib.sha256(where.encode()).hexdigest()
    return f"gbt_{digest[:24]}"


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose sessions use ``schema`` first: libpq's ``options=-csearch_path=…``.
    (Split by hand: ``urlunsplit`` would drop the ``//`` of a host-less ``postgresql:///db``.)"""
    head, _, query = url.partition("?")
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "options"]
    params.append(("options", f"-csearch_path={schema}"))
    return f"{head}?{urlencode(params, quote_via=quote, safe='/')}"


_lock = threading.Lock()
_made: set[str] = set()
_admin: Any = None  # one autocommit connection per process, reused for every schema


def _make_schema(schema: str) -> None:
    global _admin
    import psycopg
    from psycopg import sql

    with _lock:
        if schema in _made:
            return
        for attempt in (1, 2):
            try:
                if _admin is None or _admin.closed:
                    _admin = psycopg.connect(server_url(), autocommit=True)
                # IF NOT EXISTS: another process of this run may have made it first.
                _admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                    sql.Identifier(schema)))
                break
            except psycopg.OperationalError:
                _admin = None
                if attempt == 2:
                    raise
        _made.add(schema)


def ledger_target(tmp_path: Path, name: str = "ledger.db") -> str | Path:
    """What :func:`open_ledger` (and ``GAMEBALL_BATCH_DB``) takes for this test's ledger."""
    if not ON_POSTGRES:
        return tmp_path / name
    schema = schema_for(tmp_path, name)
    _make_schema(schema)
    return with_search_path(server_url(), schema)


def open_test_ledger(tmp_path: Path, name: str = "ledger.db", **kwargs: Any) -> Ledger:
    """The test's ledger ``name``, on this pass's backend."""
    return open_ledger(ledger_target(tmp_path, name), **kwargs)


def env_ledger(**kwargs: Any) -> Ledger:
    """The ledger ``GAMEBALL_BATCH_DB`` names: the one the console and the CLI under test use
    (``tests/conftest.py`` points it at :func:`ledger_target` for every test)."""
    return open_ledger(os.environ["GAMEBALL_BATCH_DB"], **kwargs)


def stored_text(target: str | Path) -> str:
    """Everything the ledger at ``target`` holds, as text, for tests that check what must
    never be stored (a secret key): the SQLite file and its write-ahead log byte for byte, or
    every row of every table in the PostgreSQL schema."""
    if not is_url(target):
        path = Path(target)
        files = sorted(path.parent.glob(path.name + "*"))
        return b"".join(p.read_bytes() for p in files).decode("utf-8", "replace")
    import psycopg
    from psycopg import sql

    parts: list[str] = []
    with psycopg.connect(str(target)) as pg:
        tables = pg.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'").fetchall()
        for (table,) in tables:
            query = sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(table))
            parts.extend(row[0] for row in pg.execute(query))
    return "\n".join(parts)
