"""The pages' addresses and the hand-over that keeps every page behind ``app.py``'s router.

Streamlit serves every ``pages/*.py`` by URL, running that file alone without ``app.py``,
until some run in the process reaches ``st.navigation`` (``PagesManager.
uses_pages_directory``; see DESIGN.md). So each page file only *defines* ``render()`` and
ends with ``if __name__ == "__main__": hand_over(__file__)``. A file run alone (a fresh
process, a shared ``/jobs?job=…`` link) draws nothing: it remembers which page was asked
for, with its query parameters, and switches to ``app.py``. The router runs the sign-in
gate, the banner and the role filter, then :func:`follow_hand_over` opens the remembered
page, if this person's roles allow it.

This module only routes; it draws nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from gameball_batch.ui import state as keys

MAIN_SCRIPT = "app.py"
# Page file name (in pages/) → its URL path. The navigation, links and the hand-over use it.
URL_PATHS: Mapping[str, str] = {
    "new_batch": "new",
    "jobs": "jobs",
    "approvals": "approvals",
    "history": "history",
    "settings": "settings",
}


def _nothing() -> None:
    """A stand-in body: a page object built only to link to a page needs no content."""


def page(name: str) -> Any:
    """A ``st.Page`` that addresses page ``name`` (links and switches; Streamlit matches
    pages by URL path, so it is the navigation's page). Call inside a script run."""
    return st.Page(_nothing, title=name, url_path=URL_PATHS[name])


def hand_over(file: str) -> None:
    """Run alone by URL: remember the page and its parameters, and let ``app.py`` route."""
    name = Path(file).stem
    params = {k: st.query_params.get_all(k)[-1] for k in st.query_params}
    st.session_state[keys.HANDOVER] = (name, params)
    st.switch_page(MAIN_SCRIPT, query_params=params)


def follow_hand_over(pages: Mapping[str, Any], current: Any) -> None:
    """After ``st.navigation``: open the page a hand-over remembered, with its parameters.

    ``pages`` maps page names to the ``st.Page`` objects given to the navigation (only the
    pages this person may use). A page they may not use is dropped silently: they get the
    page the router chose.
    """
    remembered = st.session_state.pop(keys.HANDOVER, None)
    if not remembered:
        return
    name, params = remembered
    target = pages.get(str(name))
    if target is None:
        return
    if target is not current:
        st.switch_page(target, query_params=dict(params))
    elif params and st.query_params.to_dict() != params:
        st.query_params.from_dict(dict(params))
