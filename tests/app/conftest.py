"""AppTest runs the console as a running console does, past its first ``st.navigation``.

``AppTest`` resets Streamlit's class-wide "serve ``pages/`` by URL" flag
(``PagesManager.uses_pages_directory``) before every run, as if each run were the first
request of a fresh process. A real console clears it once, at its first ``st.navigation``,
so only that first request can run a page file alone (and hand over to ``app.py``); the
browser test ``tests/e2e/test_fresh_console.py`` covers that case. Here every run would
otherwise go through the hand-over and lose the widget values the test just set.
"""

from __future__ import annotations

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import app_test


class _ResetOnlyHere(PagesManager):
    """What AppTest resets: a copy of the flag, so the real one keeps the console's value."""


@pytest.fixture(autouse=True)
def _console_past_its_first_navigation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_test, "PagesManager", _ResetOnlyHere)
    monkeypatch.setattr(PagesManager, "uses_pages_directory", False)
