"""Templates: every downloadable example maps itself and validates with zero issues."""

from __future__ import annotations

import json

import pytest

from gameball_batch import ingest, mapping, payloads, templates, validate
from gameball_batch.batch_types import BATCH_TYPES

DEMO_CUSTOMERS = {f"cus-{1000 + i}" for i in range(1, 6)}


@pytest.mark.parametrize("fmt", templates.FORMATS)
@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_each_template_maps_itself_and_validates_cleanly(slug: str, fmt: str) -> None:
    bt = BATCH_TYPES[slug]
    data = templates.template_bytes(bt, fmt)
    table = ingest.read_table(data, f"{slug}-template.{fmt}")
    suggestion = mapping.suggest_mapping(bt, list(table.frame.columns))
    assert suggestion.unmapped_required == ()
    assert suggestion.unused_columns == ()
    mapped = mapping.apply_mapping(table.frame, suggestion.mapping)
    result = validate.validate(bt, mapped, columns=suggestion.mapping, id_seed=table.fingerprint)
    assert result.issues.empty, result.issues.to_string()
    assert result.warnings.empty
    assert not any("generated" in n for n in result.notes)
    assert 3 <= result.total_rows <= 5
    assert payloads.plan_chunks(result).item_count >= 2


@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_templates_use_the_sandbox_demo_customers(slug: str) -> None:
    frame = templates.example_frame(slug)
    customer_column = "customerId" if "customerId" in frame.columns else "Customer ID"
    assert set(frame[customer_column]) <= DEMO_CUSTOMERS


def test_redemption_template_spends_at_most_50_points() -> None:
    points = templates.example_frame("redemptions")["Points"].astype(int)
    assert points.max() <= 50


def test_unknown_template_format_is_refused() -> None:
    with pytest.raises(ValueError, match="csv or xlsx"):
        templates.template_bytes("cashback", "pdf")


def _items(data: bytes, slug: str, sheet: str) -> list[object]:
    bt = BATCH_TYPES[slug]
    table = ingest.read_table(data, f"{slug}-template.xlsx", sheet=sheet)
    suggestion = mapping.suggest_mapping(bt, list(table.frame.columns))
    mapped = mapping.apply_mapping(table.frame, suggestion.mapping)
    result = validate.validate(bt, mapped, columns=suggestion.mapping, id_seed="same")
    assert result.issues.empty, result.issues.to_string()
    return [json.loads(c.payload)["body"] for c in payloads.plan_chunks(result).chunks]


@pytest.mark.parametrize("slug", list(BATCH_TYPES))
def test_each_xlsx_template_has_an_arabic_locale_sheet_that_sends_the_same_items(
    slug: str,
) -> None:
    data = templates.template_bytes(slug, "xlsx")
    assert ingest.list_sheets(data, "t.xlsx") == [slug, templates.ARABIC_SHEET]
    assert _items(data, slug, templates.ARABIC_SHEET) == _items(data, slug, slug)


def test_the_arabic_sheet_writes_numbers_and_times_as_arabic_excel_does() -> None:
    cashback = templates.arabic_frame("cashback")
    assert cashback["Amount"].tolist()[0] == "١٥٠٫٧٥"
    assert cashback["Transaction time"].tolist()[0] == "٢١\u200f/٠١\u200f/٢٠٢٦ ١٢:٠٠ م"
    assert cashback["Customer ID"].tolist()[0] == "cus-1001"  # ids as written
    customers = templates.arabic_frame("customers")
    assert customers["custom.member_no"].tolist()[0] == "00123"


@pytest.mark.parametrize(("slug", "prefix"), [("customers", "custom."), ("events", "metadata.")])
def test_templates_show_a_custom_column_of_each_kind(slug: str, prefix: str) -> None:
    bt = BATCH_TYPES[slug]
    frame = templates.example_frame(slug)
    chosen = mapping.suggest_mapping(bt, list(frame.columns)).mapping
    kinds = mapping.column_kinds(bt, frame, chosen)
    assert sorted(set(kinds.values())) == ["number", "text", "yes-no"]
    assert all(path.split(".")[-2] + "." == prefix for path in kinds)
