"""A shared job link opened on a console that nobody has opened since it started.

Streamlit runs its old multipage mode (every file in a ``pages/`` folder becomes a page,
run on its own) until some script run has called ``st.navigation``. A fresh process whose
first request is a deep link such as ``/jobs?job=…`` would then run that page without
``app.py``: no sign-in gate, no environment banner, no runner. That is why the screens live
in ``screens/``, which Streamlit never auto-discovers. This module starts its own console so
that its first request is that deep link.
"""

from __future__ import annotations

from typing import Any

import pytest
from e2e_support import AppServer, open_page

pytestmark = [pytest.mark.e2e]


def test_the_first_visit_by_shared_link_still_gets_the_frame(
    app_server: AppServer, page: Any
) -> None:
    open_page(page, app_server.url + "/jobs?job=some-job")
    # The environment banner is drawn by app.py on every page.
    page.get_by_text("SANDBOX", exact=False).first.wait_for(timeout=10_000)
