"""How AppTests open the console's pages: alone (one page's ``render``) or through app.py.

The pages are ``st.Page(render, url_path=…)`` callables, so ``AppTest.switch_page`` (which
takes a page *file*) cannot address them. :func:`goto` asks for a page the way a browser
does, by the hash Streamlit derives from its URL path; a page the person's roles do not
allow is not registered, and the router then shows its default page instead.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from gameball_batch.ui.access_view import PAGES
from gameball_batch.ui.routing import URL_PATHS
from gameball_batch.ui.text import WORD_JOINER

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
NAMES = tuple(URL_PATHS)
TITLES = {p.name: p.title for p in PAGES}
if str(ROOT) not in sys.path:  # ``from pages import …`` in the one-page scripts below
    sys.path.insert(0, str(ROOT))


def page_app(name: str, *, timeout: float = 30) -> AppTest:
    """One page on its own: its ``render()``, without the router (not yet run)."""
    return AppTest.from_string(f"from pages import {name}\n\n{name}.render()\n",
                               default_timeout=timeout)


def goto(at: AppTest, name: str) -> AppTest:
    """Ask the console for page ``name`` on the next run (call ``run()`` after)."""
    at._page_hash = calc_hash(URL_PATHS[name])
    return at


def reachable(at: AppTest) -> set[str]:
    """The pages this person can open: every other one falls back to the default page."""
    found = set()
    for name in NAMES:
        goto(at, name).run()
        if at.title and at.title[0].value == TITLES[name]:
            found.add(name)
    return found


def shown_text(markdown: str) -> str:
    """What markdown reads as once its backslash escapes are undone (``text.literal``);
    the invisible word joiners that keep addresses from becoming links are dropped too."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")


def open_console() -> AppTest:
    """The whole console (app.py), run once: the router, the gate, New batch."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    return at


def upload(at: AppTest, name: str, data: bytes, *, slug: str = "cashback") -> AppTest:
    """Choose the batch type on New batch and upload one file to it."""
    from gameball_batch.ui import state as keys

    at.selectbox(key=keys.NB_TYPE).set_value(slug).run()
    at.file_uploader[0].set_value((name, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def first_item_json(at: AppTest) -> str:
    """The first item's JSON as the review shows it: the text of its preformatted block."""
    blocks = [e.proto.body for e in at.get("html") if e.proto.body.startswith("<pre")]
    assert blocks, "the review shows no first item"
    return html.unescape(re.sub(r"<[^>]*>", "", blocks[0]))


def metric(at: AppTest, label: str) -> str:
    """The value a metric shows, by its label."""
    return next(str(m.value) for m in at.metric if m.label == label)
