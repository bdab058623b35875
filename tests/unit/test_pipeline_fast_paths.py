"""The pipeline's shortcuts for big files give exactly what the general paths give.

Each test feeds a file shaped to take a shortcut (big plain UTF-8, keys in order, a plan
wider than one build block) next to one that cannot, and checks what an operator would see.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from gameball_batch import ingest
from gameball_batch.batch_types import get
from gameball_batch.payloads import plan_chunks
from gameball_batch.validate import validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def cashback_frame(ids: list[str], *, customers: int = 97) -> pd.DataFrame:
    index = pd.RangeIndex(2, len(ids) + 2, name="row")
    columns = {
        "customerId": [f"cus-{i % customers}" for i in range(len(ids))],
        "transactionId": ids,
        "transactionTime": ["2026-01-02T03:04:05Z"] * len(ids),
        "amount": ["12.50"] * len(ids),
    }
    return pd.DataFrame({k: pd.Series(v, dtype="str", index=index) for k, v in columns.items()})


def big_csv(rows: int, note: str) -> bytes:
    lines = ['"Customer ID","Transaction ID","Note"']
    lines += [f'"cus-{i}","INV-{i:09d}","{note if i % 2 else "plain"}"' for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_a_repeated_id_in_ascending_ids_is_still_refused() -> None:
    ids = [f"INV-{i:06d}" for i in range(50)] + ["INV-000049"]
    result = validate(get("cashback"), cashback_frame(ids), now=NOW)
    assert result.issues["code"].tolist() == ["duplicate_key"]
    assert result.issues["message"].iloc[0].endswith(
        "'INV-000049' repeats row 51; each one may appear only once in this batch")


@pytest.mark.parametrize("width", [6, 8, 13, 40])
def test_a_repeated_id_among_same_length_ids_in_any_order_is_still_refused(width: int) -> None:
    ids = [f"{(i * 7919) % 1000:0{width}d}" for i in range(300)]  # unordered, one length
    ids[250] = ids[17]
    result = validate(get("cashback"), cashback_frame(ids), now=NOW)
    assert result.issues["code"].tolist() == ["duplicate_key"]
    assert result.issues["row"].tolist() == [252]
    assert "repeats row 19" in result.issues["message"].iloc[0]


def test_same_length_ids_that_all_differ_are_all_kept() -> None:
    ids = [f"{(i * 7919) % 100_003:013d}" for i in range(5000)]
    assert len(set(ids)) == len(ids)
    assert validate(get("cashback"), cashback_frame(ids), now=NOW).invalid_count == 0


def test_a_plan_from_an_unchecked_result_still_keeps_keys_apart() -> None:
    # A result built without validate's repeat check: the planner must check keys itself.
    ids = ["A", "B", "A", "C"]
    result = validate(get("cashback"), cashback_frame(["X1", "X2", "X3", "X4"]), now=NOW)
    clean = result.clean.assign(transactionId=pd.Series(ids, dtype="str",
                                                        index=result.clean.index))
    unchecked = dataclasses.replace(result, clean=clean, unique_keys=False)
    plan = plan_chunks(unchecked, size=3)
    assert [c.keys for c in plan.chunks] == [("A", "B", "C"), ("A",)]
    assert [c.rows for c in plan.chunks] == [((2,), (3,), (5,)), ((4,),)]


def test_a_plan_wider_than_one_build_block_keeps_every_row_in_order() -> None:
    n = 40_000  # more items than one block of item JSON, every customer once
    ids = [f"INV-{i:06d}" for i in range(n)]
    plan = plan_chunks(validate(get("cashback"), cashback_frame(ids, customers=n), now=NOW),
                       size=999)
    sent = [item["transactionId"] for c in plan.chunks for item in json.loads(c.payload)["body"]]
    assert sent == ids
    assert [r for c in plan.chunks for (r,) in c.rows] == list(range(2, n + 2))
    assert [k for c in plan.chunks for k in c.keys] == ids
    assert plan.chunks[0] == plan_chunks(
        validate(get("cashback"), cashback_frame(ids, customers=n), now=NOW),
        size=999).chunks[0]


def test_chunks_are_read_only() -> None:
    plan = plan_chunks(validate(get("cashback"), cashback_frame(["A"]), now=NOW))
    with pytest.raises(AttributeError):
        plan.chunks[0].payload = b"{}"


@pytest.mark.parametrize("note", ["two\nlines", 'say ""hi""', "plain"])
def test_a_big_csv_reads_the_same_whatever_its_quotes_hold(note: str) -> None:
    data = big_csv(300_000, note)  # past the size where the file is not decoded whole
    assert len(data) > 8 << 20
    table = ingest.read_table(data, "big.csv")
    small = ingest.read_table(data[: data.index(b'"\n"', 4000) + 2], "small.csv")
    assert (table.encoding, table.delimiter) == (small.encoding, small.delimiter) == ("utf-8", ",")
    assert len(table.frame) == 300_000
    assert table.frame.index[-1] == 300_001
    expected = note.replace('""', '"')
    assert table.frame["Note"].iloc[1] == expected
    assert table.frame["Note"].iloc[-1] == (expected if 299_999 % 2 else "plain")
    assert table.frame.iloc[: len(small.frame)].equals(small.frame)


def test_a_big_csv_in_another_encoding_is_still_recognised() -> None:
    data = big_csv(300_000, "café").decode().encode("cp1252")
    table = ingest.read_table(data, "big.csv")
    assert table.encoding == "windows-1252"
    assert table.frame["Note"].iloc[1] == "café"


@pytest.mark.parametrize(("cell", "may"), [
    ("plain", False), (" lead", True), ("trail ", True), ("\u00a0nbsp", True),
    ("nbsp\u00a0", True), ("ideo\u3000", True), ("مرحبا", False), ("٣", False), ("", False),
])
def test_the_edge_check_reads_a_long_column_a_window_at_a_time(cell: str, may: bool) -> None:
    """Whether a cell may need trimming is found wherever the cell is: in the last of
    several windows of cells, after a window of blanks, in a sliced array."""
    import pyarrow as pa

    from gameball_batch import cells

    n = cells._WINDOW
    column = ["x"] * n + [""] * (n + 3) + ["y"] * 100 + [cell] + ["z"]
    arr = pa.array(["skipped", *column], type=pa.large_string()).slice(1)
    assert cells.edges_may_be_space(arr) is may
    assert cells.edges_may_be_space(pa.array(column, type=pa.string())) is may
