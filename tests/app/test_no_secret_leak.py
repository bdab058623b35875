"""With real-looking keys configured, no page, download or log line shows either key.

The console talks to a local sandbox that accepts exactly those keys (nothing leaves
127.0.0.1), a job is submitted and sent, and then every page is rendered and every element
of the page tree searched for the keys, as are the logs and stderr.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_pages import goto
from ledgers import env_ledger
from streamlit.testing.v1 import AppTest

from gameball_batch import exports, jobs
from gameball_batch.sandbox import SandboxServer
from gameball_batch.ui import services
from gameball_batch.ui import state as keys

APP = str(Path(__file__).resolve().parents[2] / "app.py")
API_KEY = "gbk_live_4f9a8c2e7d1b6a3f5e0c9d8b"
SECRET_KEY = "gbs_live_7e2d9c4b1a8f3e6d0c5b2a9f"
PAGES = ("new_batch", "jobs", "approvals", "history", "settings")
CSV = (b"Customer ID,Transaction ID,Transaction Time,Amount\n"
       b"cus-1001,INV-1,2026-01-02T10:00:00Z,10\n"
       b"cus-1002,INV-2,2026-01-02T10:05:00Z,5\n")


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    services.shutdown()
    with SandboxServer(api_key=API_KEY, secret_key=SECRET_KEY) as server:
        monkeypatch.setenv("GAMEBALL_API_KEY", API_KEY)
        monkeypatch.setenv("GAMEBALL_SECRET_KEY", SECRET_KEY)
        monkeypatch.setenv("GAMEBALL_BASE_URL", server.url)
        monkeypatch.setenv("GAMEBALL_ALLOW_ANONYMOUS", "1")
        assert server.url.startswith("http://127.0.0.1:")
        yield server
        services.shutdown()


def walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def page_text(at: AppTest) -> str:
    """Every element's protobuf (values, labels, bodies, table bytes) as text."""
    parts = []
    for root in (at.main, at.sidebar):
        for node in walk(root):
            proto = getattr(node, "proto", None)
            parts.append(repr(proto) if proto is not None else "")
            with contextlib.suppress(Exception):  # not every element has a value
                parts.append(repr(node.value))
    return "\n".join(parts)


def assert_clean(text: str, where: str) -> None:
    for secret in (API_KEY, SECRET_KEY):
        assert secret not in text, f"a key shows in {where}"
        assert secret[-12:] not in text, f"part of a key shows in {where}"


def test_no_page_and_no_log_shows_the_keys(
    production: SandboxServer, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("PRODUCTION" in w.value for w in at.warning)
    at.selectbox(key=keys.NB_TYPE).set_value("cashback").run()
    at.file_uploader[0].set_value(("drop.csv", CSV, "text/csv")).run()
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    at.text_input(key=keys.NB_CONFIRM_TEXT).input("2").run()
    at.button(key=keys.NB_SUBMIT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_id = str(at.session_state[keys.NB_LAST_JOB])
    assert services.get_runner().wait(job_id, timeout=60).state == "finished"
    texts = {"job detail": page_text(at)}
    for page in PAGES:
        goto(at, page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        texts[page] = page_text(at)
    at.button(key=keys.ST_TEST_CONNECTION).click().run()  # the probe really uses the keys
    assert any("Connected to production" in s.value for s in at.success)
    texts["connection test"] = page_text(at)
    for where, text in texts.items():
        assert_clean(text, where)
    assert "set (" in texts["settings"]  # keys are shown masked: set, and a length
    with env_ledger() as ledger:  # the console's own ledger
        exported = exports.to_csv_bytes(jobs.rows_frame(ledger, job_id).reset_index())
        audit = exports.to_csv_bytes(jobs.audit_trail(ledger))
    assert_clean(exported.decode("utf-8-sig") + audit.decode("utf-8-sig"), "exports")
    out, err = capfd.readouterr()
    assert_clean(caplog.text + out + err, "the logs")
