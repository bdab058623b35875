"""Literal text: what an operator or a file supplies is shown as text, never as markdown.

File names, sheet names, headers, cells, reasons, actor names and Gameball's messages can
hold anything, e.g. a file named ``[pay](javascript:alert(3)) <b>x.csv``. Streamlit renders
``st.markdown``, ``st.caption``, ``st.info``/``success``/``warning``/``error``, widget labels
and ``help=`` as markdown, where that name would become a live link. Every such string goes
through :func:`literal` before it is put into markdown; tables (``st.dataframe``),
``st.text`` and ``st.code`` show their values literally already. A block of text shown
exactly as it is, line breaks and spaces kept (the first item's JSON), goes through
:func:`preformatted` into ``st.html``, which sanitises what is left.

This module must not import streamlit: it is pure string work, tested without a browser.
"""

from __future__ import annotations

import re
from html import escape

# Every character that markdown, GitHub-flavoured markdown (autolinks, tables, strikethrough),
# Streamlit's extensions (``:red[…]``, ``:material/…:``, emoji shortcodes, ``$…$`` maths) or
# HTML give a meaning. CommonMark lets a backslash escape any ASCII punctuation, so escaping
# a few harmless ones too costs nothing.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'@%^])")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\u2028\u2029]+")
# GitHub-flavoured markdown turns bare addresses into links *after* escapes are read
# (``https://…``, ``www.…``, ``name@host``), so a backslash cannot stop it. An invisible
# WORD JOINER inside each such marker does: the text reads the same and links nowhere.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?i)(?<=@)|(?<=://)|(?<=\bwww)(?=\.)")


def literal(value: object) -> str:
    """``value`` as markdown source that renders exactly as its text, on one line."""
    text = _LINE_BREAKS.sub(" ", str(value))
    text = _AUTOLINK.sub(WORD_JOINER, text)
    return _SPECIAL.sub(r"\\\1", text)


def code(value: object) -> str:
    """``value`` as inline code: literal, and visibly an identifier (job ids, paths)."""
    text = _LINE_BREAKS.sub(" ", str(value)).replace("`", "'")
    return f"`` {text} ``"


# Monospace on a faint panel that reads on light and dark themes alike; long lines scroll.
_PRE_STYLE = ("font-family: 'Source Code Pro', monospace; font-size: 0.85rem; margin: 0; "
              "padding: 1rem; border-radius: 0.5rem; background: rgba(128, 128, 128, 0.1); "
              "overflow-x: auto; white-space: pre")


def preformatted(value: object) -> str:
    """``value`` as an HTML ``<pre>`` block for ``st.html``: every character as it is.

    Not ``st.code``: its syntax highlighter is 1.5 MB of script that a fresh tab loads and
    runs before drawing the block (~1 s of a 100k-row review on a 2-core machine).
    """
    return f'<pre style="{_PRE_STYLE}">{escape(str(value))}</pre>'
