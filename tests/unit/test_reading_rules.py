"""Numbers, times and custom columns as operators in Gameball's markets write them.

Arabic-Indic and Eastern Arabic-Indic digits, decimal commas on the operator's word, 12-hour
times with AM/PM or ص/م, Excel serial dates, and free-form columns sent as numbers and
booleans when they are numbers and booleans (never an id such as 00123).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest

from gameball_batch import parsing
from gameball_batch.batch_types import get
from gameball_batch.payloads import plan_chunks
from gameball_batch.validate import ValidationResult, describe_reading, validate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RLM = "\u200f"


def frame(columns: dict[str, list[str]]) -> pd.DataFrame:
    rows = len(next(iter(columns.values())))
    index = pd.RangeIndex(2, rows + 2, name="row")
    return pd.DataFrame({k: pd.Series(v, dtype="str", index=index) for k, v in columns.items()})


def cashback(amount: list[str], **more: list[str]) -> pd.DataFrame:
    n = len(amount)
    base = {"customerId": [f"cus-{1000 + i}" for i in range(n)],
            "transactionId": [f"INV-{i}" for i in range(n)],
            "transactionTime": ["2026-11-20T09:15:00Z"] * n, "amount": amount}
    base.update(more)
    return frame(base)


def run(slug: str, data: pd.DataFrame, **kw: object) -> ValidationResult:
    return validate(get(slug), data, now=NOW, columns={"amount": "Amount"}, **kw)  # type: ignore[arg-type]


def codes(result: ValidationResult) -> list[tuple[int, str, str]]:
    return [(int(r), f, c) for r, f, c in result.issues[["row", "field", "code"]].itertuples(
        index=False)]


def sent(result: ValidationResult) -> list[dict[str, object]]:
    return [item for chunk in plan_chunks(result).chunks
            for item in json.loads(chunk.payload)["body"]]


# --- digits of every script ----------------------------------------------------------------


def test_arabic_indic_and_eastern_digits_are_the_numbers_they_are() -> None:
    result = run("cashback", cashback(["١٥٠٫٥٠", "۱۲۳٫۴", "١٬٢٣٤٫٥٠", "٧"]))
    assert codes(result) == []
    assert [item["amount"] for item in sent(result)] == [150.5, 123.4, 1234.5, 7]


def test_points_in_arabic_indic_digits_are_whole_numbers() -> None:
    data = frame({"customerId": ["cus-1"], "transactionId": ["R-1"],
                  "transactionTime": ["2026-11-20T09:15:00Z"], "points": ["٣٠٠"]})
    result = run("redemptions", data)
    assert sent(result)[0]["points"] == 300


def test_a_cell_mixing_digits_and_letters_is_an_error_quoting_the_original() -> None:
    result = run("cashback", cashback(["١٥٠ ج.م", "12abc"]))
    assert codes(result) == [(2, "amount", "not_a_number"), (3, "amount", "not_a_number")]
    assert result.issues["value"].tolist() == ["١٥٠ ج.م", "12abc"]
    assert result.issues["message"].tolist()[0] == "Amount must be a number, got '١٥٠ ج.م'"


def test_digits_of_two_scripts_in_one_cell_still_read_as_one_number() -> None:
    assert sent(run("cashback", cashback(["1٥0"])))[0]["amount"] == 150


def test_identifiers_in_arabic_indic_digits_are_sent_exactly_as_written() -> None:
    data = cashback(["10", "20"], customerId=["١٢٣٤٥", "۰۰۱۲"], transactionId=["٠٠٧", "٨"])
    result = run("cashback", data)
    assert codes(result) == []
    items = sent(result)
    assert [(i["customerId"], i["transactionId"]) for i in items] == [
        ("١٢٣٤٥", "٠٠٧"), ("۰۰۱۲", "٨")]


def test_western_digits_leaves_plain_ascii_untouched() -> None:
    column = pa.array(["12.5", "abc", ""])
    assert parsing.western_digits(column) is column


# --- decimal commas, on the operator's word ---------------------------------------------------


def test_a_decimal_comma_file_is_offered_never_read_silently() -> None:
    result = run("cashback", cashback(["12,25", "1.234,50", "7"]))
    assert codes(result) == [(2, "amount", "decimal_comma"), (3, "amount", "thousands_separator")]
    assert result.decimal_comma_example == "12,25 → 12.25"
    assert result.reading["decimal"] == "dot"


@pytest.mark.parametrize("amounts", [["12,25", "12.50"], ["1,234", "5"], ["12", "13"]])
def test_no_offer_when_a_cell_uses_a_dot_decimal_or_nothing_proves_commas(
    amounts: list[str],
) -> None:
    assert run("cashback", cashback(amounts)).decimal_comma_example is None


def test_read_with_commas_1234_50_is_1234_point_5_and_12_25_is_12_point_25() -> None:
    result = run("cashback", cashback(["1.234,50", "12,25", "1.234", "٣٫٥"]), decimal="comma")
    assert codes(result) == []
    assert [i["amount"] for i in sent(result)] == [1234.5, 12.25, 1234, 3.5]
    assert result.reading["decimal"] == "comma"


def test_read_with_commas_a_dot_decimal_cell_is_an_error_naming_both_readings() -> None:
    result = run("cashback", cashback(["1,234.50", "12.5", "x"]), decimal="comma")
    assert codes(result) == [(2, "amount", "decimal_mark"), (3, "amount", "decimal_mark"),
                             (4, "amount", "not_a_number")]
    message = result.issues["message"].tolist()[0]
    assert message.startswith("Amount '1,234.50' does not fit decimal commas: with dot "
                              "decimals it is 1234.50, with comma decimals 1.23450.")


def test_the_reading_is_described_for_the_job() -> None:
    text = describe_reading({"decimal": "comma", "date_order": "DMY", "header_row": 4,
                             "encoding": "Windows-1252", "kinds": {"metadata.stars": "number"}})
    assert text == ("decimal commas (1.234,50 = 1234.50) · dates day/month/year · header in "
                    "row 4 · read as Windows-1252 · metadata.stars as number")


# --- times as people type them ------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "expected"), [
    ("20/11/2026 9:15 PM", "2026-11-20T21:15:00.000Z"),
    ("20/11/2026 9:15 am", "2026-11-20T09:15:00.000Z"),
    ("20/11/2026 12:05 AM", "2026-11-20T00:05:00.000Z"),
    ("20/11/2026 12:05 PM", "2026-11-20T12:05:00.000Z"),
    (f"٢٠{RLM}/١١{RLM}/٢٠٢٦ ٩:١٥ م", "2026-11-20T21:15:00.000Z"),
    (f"٢٠{RLM}/١١{RLM}/٢٠٢٦ ٩:١٥:٣٠ ص", "2026-11-20T09:15:30.000Z"),
])
def test_twelve_hour_times_are_read(cell: str, expected: str) -> None:
    result = run("cashback", cashback(["10"], transactionTime=[cell]))
    assert codes(result) == []
    assert sent(result)[0]["transactionTime"] == expected


@pytest.mark.parametrize("cell", ["20/11/2026 13:00 PM", "20/11/2026 0:30 AM",
                                  "20/11/2026 25:00"])
def test_a_time_off_the_clock_is_reported(cell: str) -> None:
    result = run("cashback", cashback(["10"], transactionTime=[cell]))
    assert codes(result) == [(2, "transactionTime", "not_a_date")]


def test_twelve_hour_times_keep_the_day_month_ambiguity_rules() -> None:
    result = run("cashback", cashback(["10"], transactionTime=["03/04/2026 9:15 PM"]))
    assert codes(result) == [(2, "transactionTime", "ambiguous_date")]
    result = run("cashback", cashback(["10"], transactionTime=["03/04/2026 9:15 PM"]),
                 date_order="MDY")
    assert sent(result)[0]["transactionTime"] == "2026-03-04T21:15:00.000Z"


def test_a_column_of_excel_serial_dates_is_converted_and_the_operator_told() -> None:
    result = run("cashback", cashback(["10", "20"], transactionTime=["46346.5", "46346"]))
    assert codes(result) == []
    assert [i["transactionTime"] for i in sent(result)] == [
        "2026-11-20T12:00:00.000Z", "2026-11-20T00:00:00.000Z"]
    assert any("Excel date numbers (e.g. 46346.5 = 2026-11-20T12:00:00.000Z)" in note
               for note in result.notes)


def test_a_serial_number_among_real_dates_is_reported_as_before() -> None:
    data = cashback(["10", "20"], transactionTime=["2026-11-20T09:15:00Z", "46346"])
    assert codes(run("cashback", data)) == [(3, "transactionTime", "not_a_date")]


def test_a_date_column_of_serials_is_converted_to_dates() -> None:
    data = frame({"customerId": ["a"], "customerAttributes.dateOfBirth": ["34061"]})
    result = validate(get("customers"), data, now=NOW)
    assert result.clean["customerAttributes.dateOfBirth"].tolist() == ["1993-04-02"]


# --- custom attributes and metadata keep their kinds ------------------------------------------


def events(**metadata: list[str]) -> pd.DataFrame:
    n = len(next(iter(metadata.values())))
    return frame({"customerId": [f"cus-{i}" for i in range(n)], "event": ["review"] * n,
                  **{f"metadata.{k}": v for k, v in metadata.items()}})


def test_metadata_numbers_and_yes_no_are_sent_as_json_numbers_and_booleans() -> None:
    result = validate(get("events"), events(stars=["5", "٤٫٥"], verified=["yes", "No"],
                                            note=["great", "ok"]), now=NOW)
    assert result.reading["kinds"] == {"metadata.stars": "number",
                                       "metadata.verified": "yes-no", "metadata.note": "text"}
    assert [i["events"]["review"] for i in sent(result)] == [
        {"stars": 5, "verified": True, "note": "great"},
        {"stars": 4.5, "verified": False, "note": "ok"}]


@pytest.mark.parametrize("cells", [["00123", "5"], ["12345678901", "7"], ["+201000000001", "3"],
                                   ["٠٠١٢٣", "5"]])
def test_id_like_text_is_never_inferred_to_be_a_number(cells: list[str]) -> None:
    result = validate(get("events"), events(code=cells), now=NOW)
    assert result.reading["kinds"] == {"metadata.code": "text"}
    assert [i["events"]["review"]["code"] for i in sent(result)] == cells


def test_the_operators_kind_wins_and_a_bad_cell_is_reported() -> None:
    data = events(stars=["5", "five"])
    result = validate(get("events"), data, now=NOW, kinds={"metadata.stars": "number"})
    assert codes(result) == [(3, "metadata.stars", "not_a_number")]
    result = validate(get("events"), events(stars=["5", "4"]), now=NOW,
                      kinds={"metadata.stars": "text"})
    assert [i["events"]["review"]["stars"] for i in sent(result)] == ["5", "4"]


def test_custom_attributes_keep_their_kinds() -> None:
    data = frame({"customerId": ["a"], "customerAttributes.custom.visits": ["12"],
                  "customerAttributes.custom.vip": ["true"]})
    item = sent(validate(get("customers"), data, now=NOW))[0]
    assert item["customerAttributes"] == {"custom": {"visits": 12, "vip": True}}


def test_kind_words_an_operator_may_type() -> None:
    assert [parsing.parse_kind(w) for w in ("Number", "yes-no", "boolean", "text", "x")] == [
        "number", "yes-no", "yes-no", "text", None]


def test_with_decimal_commas_a_comma_decimal_metadata_column_is_a_number() -> None:
    result = validate(get("events"), events(weight=["1,5", "2"]), now=NOW, decimal="comma")
    assert result.reading["kinds"] == {"metadata.weight": "number"}
    assert [i["events"]["review"]["weight"] for i in sent(result)] == [1.5, 2]


_REFERENCE = {**{chr(0x660 + i): str(i) for i in range(10)},
              **{chr(0x6F0 + i): str(i) for i in range(10)},
              "\u066b": ".", "\u066c": "", "\u200e": "", "\u200f": "", "\u061c": ""}


def test_western_digits_agrees_with_a_character_map_across_block_edges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bytes are translated a block at a time: sequences cut by a block edge still read."""
    monkeypatch.setattr(parsing, "_BLOCK", 7)
    alphabet = [*_REFERENCE, *"0123456789.,ab ", "ب", "é", "€", "\u2028"]
    rng = random.Random(16)
    for _ in range(200):
        cells = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
                 for _ in range(rng.randint(1, 30))]
        expected = ["".join(_REFERENCE.get(ch, ch) for ch in cell) for cell in cells]
        assert parsing.western_digits(pa.array(cells)).to_pylist() == expected
        assert parsing.western_digits(pa.array(cells).slice(1)).to_pylist() == expected[1:]


def test_arabic_amounts_with_unicode_spaces_around_them_are_trimmed_and_read() -> None:
    result = run("cashback", cashback(["١٥٠\u00a0", "\u3000٢٠", "٣٠\u202f", "٤٠"]))
    assert codes(result) == []
    assert [i["amount"] for i in sent(result)] == [150, 20, 30, 40]
