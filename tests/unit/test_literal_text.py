"""Text from a file or an operator, put into markdown, reads as itself and links nowhere."""

from __future__ import annotations

import re

import pytest

from gameball_batch.charts.jobs import failures_figure, plain
from gameball_batch.ui.text import WORD_JOINER, literal

HOSTILE = [
    "[pay](javascript:alert(3)) <b>x.csv",
    "[Approve here](https://evil.example/approve)",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` ~~s~~ # head",
    ":red[alarm] :material/warning: $x^2$",
    "www.evil.example and https://evil.example",
    "&lt;b&gt; entity",
]
# A markdown character that is not preceded by a backslash would still mean something.
LIVE = re.compile(r"(?<!\\)[\[\]()<>*_`~#:$&!|]")


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")


@pytest.mark.parametrize("text", HOSTILE)
def test_literal_reads_back_as_the_same_text(text: str) -> None:
    assert unescape(literal(text)) == text


@pytest.mark.parametrize("text", HOSTILE)
def test_literal_leaves_no_markdown_or_html_character_live(text: str) -> None:
    assert not LIVE.findall(literal(text))


def test_literal_keeps_a_name_on_one_line() -> None:
    assert literal("a\n# heading\r\nb") == r"a \# heading b"


def test_gameball_messages_in_a_figure_are_plain_text() -> None:
    message = '<a href="https://evil.example">click</a>'
    assert "<a" not in plain(message)
    figure = failures_figure({message: 3})
    labels = [str(y) for trace in figure.data for y in trace.y]
    assert all("<a" not in label for label in labels)


# What GitHub-flavoured markdown links on its own, after escapes are read.
AUTOLINK = re.compile(r"(?i)https?://\w|www\.\w|[\w.+-]+@\w")


@pytest.mark.parametrize("text", [*HOSTILE, "ops@shop.example", "see https://x.example"])
def test_literal_leaves_no_bare_address_for_markdown_to_link(text: str) -> None:
    rendered_text = re.sub(r"\\(.)", r"\1", literal(text))  # what markdown's text nodes hold
    assert not AUTOLINK.search(rendered_text)
