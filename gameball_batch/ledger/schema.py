"""The ledger's schema: ordered migrations, applied once each, recorded in ``user_version``.

Never edit a shipped migration; append a new one. Statements here create and reshape
tables; they never move a chunk or a row from one state to another (that is
:mod:`.transitions`' alone).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# A migration is SQL, or a function that reshapes what SQL alone cannot (it runs inside the
# migration's transaction).
Migration = str | Callable[[sqlite3.Connection], None]


def _rows_into_sets(tx: sqlite3.Connection) -> None:
    """Schema 9: a job's rows become one record per chunk (see :mod:`.rowsets`)."""
    from gameball_batch.ledger import upgrade  # imports transitions, which imports us

    upgrade.rows_into_sets(tx)


# Ordered migrations: migration N brings a file from user_version N-1 to N. Never edit a
# shipped migration; append a new one.
MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        batch_type TEXT NOT NULL,
        file_name TEXT NOT NULL DEFAULT '',
        fingerprint TEXT NOT NULL DEFAULT '',
        sheet TEXT,
        mapping TEXT NOT NULL DEFAULT '{}',
        columns TEXT NOT NULL DEFAULT '[]',
        row_count INTEGER NOT NULL DEFAULT 0,
        item_count INTEGER NOT NULL DEFAULT 0,
        chunk_count INTEGER NOT NULL DEFAULT 0,
        totals TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL,
        error TEXT,
        actor TEXT NOT NULL DEFAULT '',
        parent_job_id TEXT REFERENCES jobs(id),
        id_seed TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        lease_owner TEXT,
        lease_expires REAL
    );
    CREATE INDEX jobs_state ON jobs(state);
    CREATE INDEX jobs_fingerprint ON jobs(fingerprint, batch_type);
    CREATE TABLE chunks (
        job_id TEXT NOT NULL REFERENCES jobs(id),
        idx INTEGER NOT NULL,
        payload BLOB NOT NULL,
        item_count INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        doubts INTEGER NOT NULL DEFAULT 0,
        remote_job_id TEXT,
        last_error TEXT,
        owner TEXT,
        not_before REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        sent_at REAL,
        finished_at REAL,
        PRIMARY KEY (job_id, idx)
    ) WITHOUT ROWID;
    CREATE INDEX chunks_state ON chunks(job_id, state);
    CREATE TABLE rows (
        job_id TEXT NOT NULL,
        row INTEGER NOT NULL,
        chunk_idx INTEGER NOT NULL,
        key TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT,
        result TEXT,
        cells TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (job_id, row)
    ) WITHOUT ROWID;
    CREATE INDEX rows_item ON rows(job_id, chunk_idx, key);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        job_id TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_job ON audit(job_id, id);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
    # 2: Gameball's per-item results kept once per chunk (one JSON document), not per row.
    """
    ALTER TABLE chunks ADD COLUMN results TEXT;
    """,
    # 3: each row's business key (guards.py), so "sent in the last N days?" is an indexed
    # lookup instead of a scan of every row's cells.
    """
    CREATE TABLE row_keys (
        job_id TEXT NOT NULL,
        row INTEGER NOT NULL,
        bkey TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (job_id, row)
    ) WITHOUT ROWID;
    CREATE INDEX row_keys_bkey ON row_keys(bkey, at);
    """,
    # 4: payloads and results move out of the chunk record. Every state change of a chunk
    # rewrote its record, ~100 KB of payload included (claim, accepted, finish: three times
    # per chunk), and the scheduler's reads walked past it; now the chunk record is a few
    # dozen bytes and each blob is written once. The table is rebuilt rather than altered
    # with DROP COLUMN, which needs SQLite 3.35 (RHEL 9 and Ubuntu 20.04 ship older ones).
    """
    CREATE TABLE chunk_payloads (
        job_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        payload BLOB NOT NULL,
        PRIMARY KEY (job_id, idx)
    );
    INSERT INTO chunk_payloads (job_id, idx, payload) SELECT job_id, idx, payload FROM chunks;
    CREATE TABLE chunk_results (
        job_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        results BLOB NOT NULL,
        PRIMARY KEY (job_id, idx)
    );
    INSERT INTO chunk_results (job_id, idx, results)
        SELECT job_id, idx, results FROM chunks WHERE results IS NOT NULL;
    CREATE TABLE chunks_v4 (
        job_id TEXT NOT NULL REFERENCES jobs(id),
        idx INTEGER NOT NULL,
        item_count INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        doubts INTEGER NOT NULL DEFAULT 0,
        remote_job_id TEXT,
        last_error TEXT,
        owner TEXT,
        not_before REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        sent_at REAL,
        finished_at REAL,
        PRIMARY KEY (job_id, idx)
    ) WITHOUT ROWID;
    INSERT INTO chunks_v4 (job_id, idx, item_count, state, attempts, doubts, remote_job_id,
                           last_error, owner, not_before, created_at, updated_at, sent_at,
                           finished_at)
        SELECT job_id, idx, item_count, state, attempts, doubts, remote_job_id, last_error,
               owner, not_before, created_at, updated_at, sent_at, finished_at FROM chunks;
    DROP TABLE chunks;
    ALTER TABLE chunks_v4 RENAME TO chunks;
    CREATE INDEX chunks_state ON chunks(job_id, state);
    """,
    # 5: jobs know their target (DESIGN.md §9), how they were stopped and which job they
    # retry (unique: a job's failed rows are retried once); rows keep a mark once they were
    # in doubt (§6); transaction and order ids are looked up across jobs (§3, §5); a small
    # key/value table remembers what the client learnt (which status routes Gameball serves).
    """
    ALTER TABLE jobs ADD COLUMN target_kind TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN target_url TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN target_fp TEXT NOT NULL DEFAULT '';
    ALTER TABLE jobs ADD COLUMN abort INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN retry_of TEXT;
    CREATE UNIQUE INDEX jobs_retry_of ON jobs(retry_of) WHERE retry_of IS NOT NULL;
    ALTER TABLE rows ADD COLUMN doubted INTEGER NOT NULL DEFAULT 0;
    UPDATE rows SET doubted = 1 WHERE status = 'unknown';
    CREATE TABLE item_ids (
        scope TEXT NOT NULL,
        id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        row INTEGER NOT NULL,
        PRIMARY KEY (scope, id, job_id, row)
    ) WITHOUT ROWID;
    INSERT INTO item_ids (scope, id, job_id, row)
        SELECT j.batch_type, r.key, r.job_id, r.row FROM rows AS r JOIN jobs AS j
        ON j.id = r.job_id WHERE j.batch_type IN ('orders', 'cashback', 'redemptions');
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 6: send at a time (schedule.py). A job may carry the moment (UTC epoch) it is to be
    # sent; scheduled jobs are found by state and time, so the ledger is the schedule.
    """
    ALTER TABLE jobs ADD COLUMN scheduled_at REAL;
    CREATE INDEX jobs_scheduled ON jobs(state, scheduled_at);
    """,
    # 7: verification (verify.py). Balances (and total points earned) of a chunk's
    # customers just before it was sent (adjustments; ``error`` when the snapshot failed),
    # the latest verdict per row with its evidence, and "a job is undone once": the undo
    # job's link, unique per parent, is an audit entry stored in the undo job's own
    # transaction.
    """
    CREATE TABLE balance_snapshots (
        job_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        customer TEXT NOT NULL,
        points REAL,
        earned REAL,
        error TEXT,
        at REAL NOT NULL,
        PRIMARY KEY (job_id, idx, customer)
    ) WITHOUT ROWID;
    CREATE TABLE row_evidence (
        job_id TEXT NOT NULL,
        row INTEGER NOT NULL,
        verdict TEXT NOT NULL,
        evidence TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (job_id, row)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX audit_undo_of ON audit(json_extract(detail, '$.parent_job_id'))
        WHERE action = 'job.undo_of';
    """,
    # 8: how many rows of each chunk are in each status, kept by the transitions that move
    # rows (transitions.retally). A job's counts were a GROUP BY over all its rows: 0.36 s
    # for a 1M-row job, on every open and every refresh of its live page.
    """
    CREATE TABLE row_tallies (
        job_id TEXT NOT NULL,
        chunk_idx INTEGER NOT NULL,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (job_id, chunk_idx, status)
    ) WITHOUT ROWID;
    INSERT INTO row_tallies (job_id, chunk_idx, status, n)
        SELECT job_id, chunk_idx, status, COUNT(*) FROM rows
        GROUP BY job_id, chunk_idx, status;
    """,
    # 9: rows are kept per chunk, not per row (rowsets.py): a chunk's rows are one record,
    # the cells of a job a few compressed parts, the guards' keys one record per job and
    # kind. Storing a 1M-row job wrote a million records and four million index entries.
    _rows_into_sets,
)
SCHEMA_VERSION = len(MIGRATIONS)


class LedgerError(RuntimeError):
    """The ledger cannot be used (newer schema, not a ledger, unsafe place); says why."""


def statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    return out
