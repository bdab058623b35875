"""Every upload is in the audit trail: who uploaded which file, once, and History shows it.

The real console runs (``app.py`` with its embedded sandbox and the ledger in tmp_path); the
file goes in through the real ``st.file_uploader`` and the person through ``at.user``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_pages import goto
from ledgers import env_ledger
from streamlit.testing.v1 import AppTest

from gameball_batch import jobs
from gameball_batch.ledger import AuditEntry
from gameball_batch.ui import services
from gameball_batch.ui import state as keys

APP = str(Path(__file__).resolve().parents[2] / "app.py")
OPERATOR = "ops@shop.example"
ROLES = f"""
[roles]
operators = ["{OPERATOR}"]
"""
CSV = (b"Customer ID,Transaction ID,Transaction Time,Amount\n"
       b"cus-1001,INV-1,2026-01-02T10:00:00Z,10\n"
       b"cus-1002,INV-2,2026-01-02T10:05:00Z,12.5\n")
OTHER = CSV + b"cus-1003,INV-3,2026-01-02T10:10:00Z,7\n"


@pytest.fixture(autouse=True)
def _configured() -> Iterator[None]:
    services.shutdown()
    Path(os.environ["GAMEBALL_SECRETS_PATH"]).write_text(ROLES)
    yield
    services.shutdown()


def uploads() -> list[AuditEntry]:
    with env_ledger() as ledger:
        return [e for e in ledger.audit_entries() if e.action == jobs.UPLOADED]


def console() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": OPERATOR}
    at.run()
    at.selectbox(key=keys.NB_TYPE).set_value("cashback").run()
    return at


def test_an_upload_is_recorded_once_with_who_and_what() -> None:
    at = console()
    at.file_uploader[0].set_value(("october.csv", CSV, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    at.checkbox(key=keys.NB_CONFIRM).check().run()  # more reruns of the same upload
    at.run()
    [entry] = uploads()
    assert entry.actor == OPERATOR
    assert entry.job_id is None
    assert entry.detail == {"file": "october.csv", "format": "csv", "rows": 2,
                            "fingerprint": hashlib.sha256(CSV).hexdigest()}


def test_each_new_upload_is_recorded_and_history_lists_it() -> None:
    at = console()
    at.file_uploader[0].set_value(("october.csv", CSV, "text/csv")).run()
    at.file_uploader[0].set_value(("november.csv", OTHER, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [(e.detail["file"], e.detail["rows"]) for e in uploads()] == [
        ("october.csv", 2), ("november.csv", 3)]
    goto(at, "history").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    mine = table[table["what"] == "file uploaded"]
    assert len(mine) == 2
    assert set(mine["who"]) == {OPERATOR}
    assert "november.csv" in mine["detail"].iloc[0]  # newest first


def test_an_unreadable_file_is_not_recorded_as_an_upload() -> None:
    at = console()
    at.file_uploader[0].set_value(("broken.xlsx", b"this is not a workbook", "text/csv")).run()
    assert not at.exception
    assert uploads() == []
