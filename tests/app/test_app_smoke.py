"""Every page of the console renders without an exception, inside the real frame.

The frame starts the embedded sandbox (no credentials are configured in tests) and the
runner once per process; each test stops them again so no thread outlives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_pages import goto
from streamlit.testing.v1 import AppTest

from gameball_batch.ui import services

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = ("new_batch", "jobs", "history", "settings")


@pytest.fixture(autouse=True)
def _fresh_services() -> Iterator[None]:
    services.shutdown()
    yield
    services.shutdown()


def test_the_console_opens_on_new_batch_with_the_sandbox_banner() -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "New batch"
    banner = at.info[0].value
    assert "SANDBOX" in banner
    assert "http://127.0.0.1:" in banner


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_an_exception(page: str) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    goto(at, page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error if "unexpected" in e.value]


def test_production_banner_warns_and_names_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAMEBALL_API_KEY", "k" * 24)
    monkeypatch.setenv("GAMEBALL_SECRET_KEY", "s" * 24)
    monkeypatch.setenv("GAMEBALL_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GAMEBALL_ALLOW_ANONYMOUS", "1")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    warning = at.warning[0].value
    assert "PRODUCTION" in warning
    assert "http://127.0.0.1:9" in warning
    assert not at.info or "SANDBOX" not in at.info[0].value


def test_production_without_sign_in_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAMEBALL_API_KEY", "k" * 24)
    monkeypatch.setenv("GAMEBALL_BASE_URL", "http://127.0.0.1:9")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert "no sign-in is configured" in at.error[0].value
    assert not at.title  # no page content is shown
