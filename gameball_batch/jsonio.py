"""JSON decoding for the runner's hot path: orjson where it agrees with the standard library.

A 1000-item chunk is parsed three times on its way to the ledger: Gameball's status reply
(the client), the payload it was sent as (to map customer-named results to rows) and the
chunk's row set (its closing). With :mod:`json` that was ~3.5 ms of CPU per chunk, all of it
holding the GIL that the sending threads wait for (``bench/README.md``, Session 7). orjson
parses the same documents 2-4x faster.

:func:`loads` gives exactly what :func:`json.loads` gives. orjson reads an integer beyond
64 bits as a float, silently, so a document with a run of 19 or more digits anywhere (in a
string too: the check does not parse) goes to :func:`json.loads`; so does anything orjson
refuses (``NaN``, ``1e400``, a lone surrogate escape, a byte-order mark, text that is not
UTF-8), which the standard library then accepts or refuses with its own error, as before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# 2**63 has 19 digits: from there on orjson may read an integer as a float. A document with
# such a run of digits anywhere goes to the standard library. Digits become "0" and
# everything else a space, then one substring search (~0.1 ms for 100 KB; a regex took 1.3).
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def loads(document: bytes | str) -> Any:
    """:func:`json.loads`, faster for the documents orjson reads the same way."""
    data = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    if _LONG_RUN not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the standard library's own answer: a value, or its error
    return json.loads(document)
