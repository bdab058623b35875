"""Literal text: what an operator or a file supplies is shown as text, never as markdown.

File names, sheet names, headers, cells, reasons, actor names and Gameball's messages can
hold anything, e.g. a file named ``[pay](javascript:alert(3)) <b>x.csv``. Streamlit renders
``st.markdown``, ``st.caption``, ``st.info``/``success``/``warning``/``error``, widget labels
and ``help=`` as markdown, where that name would become a live link. Every such string goes
through :func:`literal` before it is put into markdown; tables (``st.dataframe``),
``st.text`` and ``st.code`` show their values literally already.

This module must not import streamlit: it is pure string work, tested without a browser.
"""

from __future__ import annotations

import re

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
