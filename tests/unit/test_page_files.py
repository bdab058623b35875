"""Every page file only defines ``render()`` and hands over to app.py when run alone.

Streamlit serves ``pages/*.py`` by URL, without app.py, until the first ``st.navigation``
of a process (DESIGN.md, "A trap"). A page file that draws anything at module level would
then draw it past the sign-in gate; one without the hand-over would show a blank page
instead of the page its shared link pointed at.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE_FILES = sorted(p for p in (ROOT / "pages").glob("*.py") if p.name != "__init__.py")
GUARD = 'if __name__ == "__main__":\n    hand_over(__file__)'


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
        and isinstance(node.value.value, str)


def problems(source: str) -> list[str]:
    """What is wrong with a page file's source; empty when it is a proper page."""
    body = ast.parse(source).body
    found = []
    if not body or ast.unparse(body[-1]) != ast.unparse(ast.parse(GUARD).body[0]):
        found.append(f"does not end with: {GUARD}")
    else:
        body = body[:-1]
    for node in body:
        if not (isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef)
                or _is_docstring(node)):
            found.append(f"line {node.lineno}: only imports and functions at module level")
    if "render" not in [n.name for n in body if isinstance(n, ast.FunctionDef)]:
        found.append("does not define render()")
    return found


def test_the_five_pages_are_in_pages() -> None:
    assert {p.stem for p in PAGE_FILES} == {"new_batch", "jobs", "approvals", "history",
                                              "settings"}
    assert not (ROOT / "screens").exists()


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_a_page_file_only_defines_render_and_hands_over(path: Path) -> None:
    assert problems(path.read_text()) == []


def test_a_module_level_widget_is_caught() -> None:
    source = f"import streamlit as st\nst.title('x')\n\ndef render() -> None:\n    pass\n{GUARD}\n"
    assert problems(source) == ["line 2: only imports and functions at module level"]


def test_a_missing_hand_over_is_caught() -> None:
    assert problems("def render() -> None:\n    pass\n") == [f"does not end with: {GUARD}"]
