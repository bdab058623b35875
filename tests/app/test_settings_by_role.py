"""Only operators change runner limits or the sandbox; viewers see the read-only panels.

Roles come from a real ``[roles]`` settings section and the signed-in person from
``at.user``; the page runs against the embedded sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_pages import page_app
from streamlit.testing.v1 import AppTest

from gameball_batch.ui import services
from gameball_batch.ui import state as keys

ROLES = """
[roles]
viewers = ["carol@audit.example"]
operators = ["ops@shop.example"]
"""
VIEWER = "carol@audit.example"
OPERATOR = "ops@shop.example"
SETTINGS_CONTROLS = (keys.ST_APPLY_LIMITS, keys.ST_SANDBOX_RESET, keys.ST_SEED,
                     keys.ST_FAULT_APPLY, keys.ST_FAULT_CLEAR, keys.ST_SANDBOX_RATE_APPLY)


@pytest.fixture(autouse=True)
def _roles() -> Iterator[None]:
    services.shutdown()
    Path(os.environ["GAMEBALL_SECRETS_PATH"]).write_text(ROLES)
    yield
    services.shutdown()


def page(email: str) -> AppTest:
    at = page_app("settings")
    at.user = {"is_logged_in": True, "email": email}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button_keys(at: AppTest) -> set[str]:
    return {str(b.key) for b in at.button}


def widget_keys(at: AppTest) -> set[str]:
    found = button_keys(at)
    for kind in ("selectbox", "text_input", "checkbox", "number_input"):
        found |= {str(w.key) for w in at.get(kind)}
    return found


def test_a_viewer_sees_the_connection_but_no_limit_or_sandbox_controls() -> None:
    at = page(VIEWER)
    assert at.metric[0].value == "SANDBOX"
    assert "Sandbox controls" not in [h.value for h in at.header]
    assert not widget_keys(at) & (set(SETTINGS_CONTROLS) | {keys.ST_CONCURRENCY, keys.ST_RATE})
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Chunks in flight per job"] == "4"  # limits are still shown, read-only
    assert any("Only operators" in c.value for c in at.caption)


def test_an_operator_gets_the_limit_and_sandbox_controls() -> None:
    at = page(OPERATOR)
    assert set(SETTINGS_CONTROLS) <= button_keys(at)
    assert "Sandbox controls" in [h.value for h in at.header]
