"""TEMPORARY stand-in (pg5 branch) for the helper's tests/ledgers.py."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

BACKEND = os.environ.get("GB_TEST_LEDGER", "sqlite")
def ledger_target(tmp_path: Path, name: str = "ledger.db") -> str:
    if BACKEND != "postgresql":
        return str(tmp_path / name)
    import psycopg
    base = os.environ["GB_TEST_PG_URL"]
    schema = "t_" + hashlib.sha256(str(tmp_path / name).encode()).hexdigest()[:16]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"
def open_test_ledger(tmp_path: Path, name: str = "ledger.db", **kw: Any) -> Any:
    from gameball_batch.ledger import open_ledger
    return open_ledger(ledger_target(tmp_path, name), **kw)
