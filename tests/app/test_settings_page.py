"""The Settings page: where requests go, keys never shown, limits, and sandbox controls."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from console_pages import APP, page_app
from streamlit.testing.v1 import AppTest

from gameball_batch.ui import sandbox_admin, services
from gameball_batch.ui import state as keys

API_KEY = "Zq7xWv93KpL0mN4tRb8yHc2j"
SECRET_KEY = "Ux5Qe1Gd6Fh0Js9Ka3Lz7Mw2"


@pytest.fixture(autouse=True)
def _fresh_services() -> Iterator[None]:
    services.shutdown()
    yield
    services.shutdown()


def _page() -> AppTest:
    return page_app("settings").run()


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [str(m.value) for m in at.metric] + [e.value for e in at.error]
    parts += [s.value for s in at.success] + [w.value for w in at.warning]
    return "\n".join(parts)


def test_sandbox_mode_names_the_embedded_sandbox_and_its_url() -> None:
    at = _page()
    assert not at.exception
    assert at.metric[0].value == "SANDBOX"
    url = services.get_connection().base_url
    assert url in _texts(at)
    assert at.header(key=None) is not None
    assert "Sandbox controls" in [h.value for h in at.header]


def test_test_connection_reports_the_sandbox_accepted_the_keys() -> None:
    at = _page()
    at.button(key=keys.ST_TEST_CONNECTION).click().run()
    assert not at.exception
    assert at.success, _texts(at)
    assert "keys were accepted" in at.success[0].value


def test_production_shows_keys_masked_and_never_their_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAMEBALL_API_KEY", API_KEY)
    monkeypatch.setenv("GAMEBALL_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("GAMEBALL_BASE_URL", "http://127.0.0.1:9")
    at = _page()
    assert not at.exception
    text = _texts(at)
    assert at.metric[0].value == "PRODUCTION"
    assert f"set ({len(API_KEY)} characters)" in text
    for secret in (API_KEY, SECRET_KEY):
        for start in range(0, len(secret) - 4):
            assert secret[start : start + 5] not in text
    assert "Sandbox controls" not in [h.value for h in at.header]


def test_unreachable_production_connection_is_reported_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAMEBALL_API_KEY", API_KEY)
    monkeypatch.setenv("GAMEBALL_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("GAMEBALL_BASE_URL", "http://127.0.0.1:9")  # nothing listens on 9
    at = _page()
    at.button(key=keys.ST_TEST_CONNECTION).click().run()
    assert not at.exception
    message = at.error[0].value
    assert "Could not reach production at http://127.0.0.1:9" in message
    assert API_KEY not in message


def test_limits_are_shown() -> None:
    at = _page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Chunks in flight per job"] == "4"
    assert metrics["Requests per second"] == "30"
    assert metrics["Upload limit"].startswith("200 MB")


def test_seeding_and_reset_change_the_sandbox() -> None:
    at = _page()
    url = services.get_connection().base_url
    at.number_input(key=keys.ST_SEED_COUNT).set_value(7)
    at.button(key=keys.ST_SEED).click().run()
    assert not at.exception
    assert "Seeded 7 demo customers" in at.success[0].value
    at.button(key=keys.ST_SANDBOX_RESET).click().run()
    assert "Sandbox reset" in at.success[0].value
    assert sandbox_admin.processing(url)["pendingItems"] == 0


def test_faults_applied_for_training_reach_the_sandbox_and_clear_again() -> None:
    at = _page()
    url = services.get_connection().base_url
    at.number_input(key=keys.ST_FAULT_ERROR_AFTER).set_value(0.5)
    at.number_input(key=keys.ST_FAULT_RATE_LIMIT_NEXT).set_value(3)
    at.button(key=keys.ST_FAULT_APPLY).click().run()
    assert not at.exception
    assert "error_after=0.5" in at.success[0].value
    faults = sandbox_admin.faults(url)
    assert faults["error_after"] == 0.5
    assert faults["rate_limit_next"] == 3
    at.button(key=keys.ST_FAULT_CLEAR).click().run()
    assert "All faults cleared" in at.success[0].value
    assert sandbox_admin.faults(url)["error_after"] == 0.0


def test_sandbox_mode_lists_the_demo_customers_with_balances_and_a_csv() -> None:
    at = _page()
    assert not at.exception
    assert "Sandbox customers" in [h.value for h in at.header]
    assert "200 customers in the sandbox; demo ids cus-1001 … cus-1200" in _texts(at)
    url = services.get_connection().base_url
    listed = sandbox_admin.customers(url)
    assert listed.rows[0] == {"customerId": "cus-1001", "points": 1000,
                              "availablePoints": 1000, "email": "cus-1001@example.com",
                              "mobile": None}
    lines = list(csv.reader(io.StringIO(listed.to_csv_bytes().decode("utf-8-sig"))))
    assert lines[0] == ["customerId", "points", "availablePoints", "email", "mobile"]
    assert lines[1] == ["cus-1001", "1000", "1000", "cus-1001@example.com", ""]
    assert len(lines) == 201


def test_the_customer_csv_never_carries_a_formula() -> None:
    listed = sandbox_admin.Customers(rows=[{"customerId": "=HYPERLINK(1)", "points": -5}])
    rows = list(csv.reader(io.StringIO(listed.to_csv_bytes().decode("utf-8-sig"))))
    assert rows[1] == ["'=HYPERLINK(1)", "-5", "", "", ""]
    assert listed.demo_range is None


def test_sandbox_admin_refuses_a_non_local_url() -> None:
    with pytest.raises(sandbox_admin.SandboxAdminError, match="only talk to a local sandbox"):
        sandbox_admin.reset("https://api.gameball.co")


def test_the_upload_limit_is_two_short_metrics_that_fit() -> None:
    metrics = {m.label: m.value for m in _page().metric}
    assert metrics["Upload limit"] == "200 MB"
    assert metrics["Rows per file"].replace(",", "").isdigit()


def test_in_sandbox_mode_settings_and_sidebar_both_name_the_sandbox_demo_key() -> None:
    at = _page()
    assert "**API key:** sandbox demo key" in [m.value for m in at.markdown]
    assert "No Gameball API key is configured" not in _texts(at)
    console = AppTest.from_file(APP, default_timeout=60).run()
    assert "API key: sandbox demo key" in [c.value for c in console.sidebar.caption]


def test_the_fault_section_stays_open_after_a_button_in_it() -> None:
    at = _page()
    at.number_input(key=keys.ST_FAULT_LATENCY).set_value(0.2)
    at.button(key=keys.ST_FAULT_APPLY).click().run()
    section = next(e for e in at.expander if e.label == "Fault injection (training)")
    assert section.proto.expanded
    at.button(key=keys.ST_FAULT_CLEAR).click().run()
    section = next(e for e in at.expander if e.label == "Fault injection (training)")
    assert section.proto.expanded
