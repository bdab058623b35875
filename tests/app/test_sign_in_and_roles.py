"""Sign-in and roles as people meet them: each role sees only its pages; production without
sign-in shows nothing; the signed-in email is who the ledger records."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_pages import goto, reachable
from ledgers import env_ledger
from streamlit.testing.v1 import AppTest

from gameball_batch.access import SignIn
from gameball_batch.ui import access_view, services
from gameball_batch.ui import state as keys
from gameball_batch.ui.text import literal

APP = str(Path(__file__).resolve().parents[2] / "app.py")
ROLES = """
[roles]
viewers = ["@audit.example"]
operators = ["ops@shop.example"]
approvers = ["boss@shop.example"]
"""
AUTH = """
[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "not-a-real-cookie-secret"
client_id = "console"
client_secret = "not-a-real-client-secret"
server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"
"""
CSV = (b"Customer ID,Transaction ID,Transaction Time,Amount\n"
       b"cus-1001,INV-1,2026-01-02T10:00:00Z,10\n")


@pytest.fixture(autouse=True)
def _fresh_services() -> Iterator[None]:
    services.shutdown()
    yield
    services.shutdown()


def configure(text: str) -> None:
    Path(os.environ["GAMEBALL_SECRETS_PATH"]).write_text(text)


def console(email: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": email} if email else {"is_logged_in": False}
    return at.run()


@pytest.mark.parametrize(("email", "pages", "first_title"), [
    ("carol@audit.example", {"jobs", "history", "settings"}, "Jobs"),
    ("ops@shop.example", {"new_batch", "jobs", "history", "settings"}, "New batch"),
    ("boss@shop.example", {"jobs", "approvals", "history", "settings"}, "Jobs"),
], ids=["viewer", "operator", "approver"])
def test_each_role_sees_only_its_pages(email: str, pages: set[str], first_title: str) -> None:
    configure(ROLES)
    at = console(email)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == first_title
    assert reachable(at) == pages
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert f"You are **{literal(email)}**" in sidebar


def test_a_viewer_asking_for_the_approvals_page_gets_the_jobs_page() -> None:
    configure(ROLES)
    at = console("carol@audit.example")
    goto(at, "approvals").run()
    assert not at.exception
    assert at.title[0].value == "Jobs"


def test_a_signed_in_person_without_a_role_is_told_to_ask_for_access() -> None:
    configure(ROLES + AUTH)
    at = console("stranger@else.example")
    assert not at.exception
    assert "no role is given to this address" in at.error[0].value
    assert not at.title  # no page ran
    # No page can be opened by its URL either (Streamlit's multipage fallback is closed).
    assert reachable(at) == set()


def test_production_signed_out_shows_only_the_sign_in_screen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAMEBALL_API_KEY", "Zq7xWv93KpL0mN4tRb8yHc2j")
    monkeypatch.setenv("GAMEBALL_SECRET_KEY", "Ux5Qe1Gd6Fh0Js9Ka3Lz7Mw2")
    monkeypatch.setenv("GAMEBALL_BASE_URL", "http://127.0.0.1:9")
    configure(ROLES + AUTH)
    at = console(None)
    assert not at.exception
    assert at.header[0].value == "Sign in to continue"
    assert at.button(key=keys.FRAME_LOGIN).label == "Sign in"
    assert not at.title  # no page, no navigation, no banner with the base URL
    assert not any("127.0.0.1:9" in str(m.value) for m in at.markdown)
    assert reachable(at) == set()


def test_production_without_sign_in_configured_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAMEBALL_API_KEY", "Zq7xWv93KpL0mN4tRb8yHc2j")
    monkeypatch.setenv("GAMEBALL_BASE_URL", "http://127.0.0.1:9")
    at = console(None)
    assert "no sign-in is configured" in at.error[0].value
    assert not at.title
    assert reachable(at) == set()


def test_production_with_anonymous_allowed_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAMEBALL_API_KEY", "Zq7xWv93KpL0mN4tRb8yHc2j")
    monkeypatch.setenv("GAMEBALL_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GAMEBALL_ALLOW_ANONYMOUS", "1")
    at = console(None)
    assert not at.exception
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert access_view.SIGN_IN_TEXT[SignIn.ANONYMOUS] in sidebar


def test_sandbox_sign_in_is_optional_and_offered() -> None:
    configure(AUTH)
    at = console(None)
    assert not at.exception
    assert at.title[0].value == "New batch"  # no roles configured: everyone holds every role
    assert "Sign-in optional." in " ".join(c.value for c in at.sidebar.caption)
    assert at.sidebar.button(key=access_view.FRAME_LOGIN_SIDEBAR).label == "Sign in"


def test_the_signed_in_email_is_the_actor_in_the_ledger() -> None:
    configure(ROLES)
    at = console("ops@shop.example")
    at.selectbox(key=keys.NB_TYPE).set_value("cashback").run()
    at.file_uploader[0].set_value(("one.csv", CSV, "text/csv")).run()
    at.checkbox(key=keys.NB_CONFIRM).check().run()
    at.button(key=keys.NB_SUBMIT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_id = at.session_state[keys.NB_LAST_JOB]
    with env_ledger() as ledger:
        job = ledger.job(job_id)
        assert job is not None
        assert job.actor == "ops@shop.example"
        assert ledger.audit_entries(job_id)[0].actor == "ops@shop.example"
