"""Hostile and broken files through the real new-batch page: each gets a clear message or a
safe rendering, and the console stays usable for the next (good) file."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_pages import shown_text
from streamlit.testing.v1 import AppTest

from gameball_batch.ui import services
from gameball_batch.ui import state as keys

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import files_for_tests  # the shared builders of test files live with the unit tests

APP = str(Path(__file__).resolve().parents[2] / "app.py")
HEADER = b"Customer ID,Transaction ID,Transaction Time,Amount\n"
GOOD = HEADER + b"cus-1001,INV-1,2026-01-02T10:00:00Z,10\n"

REFUSED = {
    "zip bomb": ("bomb.xlsx", files_for_tests.zip_bomb(), "far more than its contents justify"),
    "binary named .csv": ("data.csv", bytes(range(256)) * 200, "contains binary data"),
    "10,000 columns": (
        "wide.csv",
        (",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join("x" * 10_000) + "\n").encode(),
        "10,000 columns; at most 2,000",
    ),
    "1 MB cell": ("bigcell.csv", HEADER + b"cus-1001,INV-1,2026-01-02T10:00:00Z," +
                  b"9" * (1 << 20) + b"\n", "longer than 100,000 characters"),
    "encrypted workbook": ("locked.xlsx", files_for_tests.encrypted_workbook(), "password"),
}


@pytest.fixture(autouse=True)
def _fresh_services() -> Iterator[None]:
    services.shutdown()
    yield
    services.shutdown()


def upload(name: str, data: bytes) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.selectbox(key=keys.NB_TYPE).set_value("cashback").run()
    at.file_uploader[0].set_value((name, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def still_works(at: AppTest) -> None:
    """Start over and a good file goes through to validation: the console stayed up."""
    at.button(key=keys.NB_RESET).click().run()
    at.file_uploader[0].set_value(("good.csv", GOOD, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert next(m.value for m in at.metric if m.label == "Valid") == "1"


def no_raw_html(at: AppTest) -> None:
    """Nothing from the file reaches the page as live HTML."""
    for element in (*at.markdown, *at.caption):
        if getattr(element, "allow_html", False):
            assert "<script" not in element.value.lower()
            assert "<img" not in element.value.lower()


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_hostile_file_gets_a_clear_message_and_the_console_stays_up(case: str) -> None:
    name, data, phrase = REFUSED[case]
    at = upload(name, data)
    assert at.error, f"{case}: no message"
    shown = shown_text(at.error[0].value)  # file names and messages are escaped markdown
    assert f"Could not read {name}" in shown
    assert phrase in shown.replace("\n", " "), shown
    still_works(at)


def test_invalid_utf8_is_read_as_a_legacy_encoding_and_shown_safely() -> None:
    at = upload("legacy.csv", HEADER + b"cus-\xff1001,INV-\xc3\x28,2026-01-02T10:00:00Z,10\n")
    assert any("encoding windows-1252" in c.value for c in at.caption)
    assert next(m.value for m in at.metric if m.label == "Rows") == "1"
    still_works(at)


def test_formula_html_and_script_cells_are_shown_as_text_never_run() -> None:
    hostile = (
        b'Customer ID,Transaction ID,Transaction Time,Amount,<script>alert(1)</script>\n'
        b'"=HYPERLINK(""http://evil.example"",""x"")",<img src=x onerror=alert(1)>,'
        b'2026-01-02T10:00:00Z,10,<b>bold</b>\n'
        b'@SUM(A1:A9),+cmd|/c calc,2026-01-02T10:00:00Z,-20,"<a href=javascript:alert(1)>x</a>"\n'
    )
    at = upload("hostile.csv", hostile)
    assert next(m.value for m in at.metric if m.label == "Rows") == "2"
    no_raw_html(at)
    # The unmapped hostile header is named as code text, not rendered.
    assert any("`<script>alert(1)</script>`" in c.value for c in at.caption)
    still_works(at)


def test_the_row_limit_from_settings_gives_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAMEBALL_MAX_ROWS", "1")
    at = upload("two.csv", GOOD + b"cus-1002,INV-2,2026-01-02T10:00:00Z,11\n")
    assert "The file has 2 data rows; the limit is 1" in shown_text(at.error[0].value)
