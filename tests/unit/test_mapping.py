"""Which column feeds which field: suggestions for real-world headers, problems, saved maps."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gameball_batch.batch_types import BatchType, FieldSpec, Kind, get
from gameball_batch.mapping import (
    MappingError,
    MappingStore,
    apply_mapping,
    mapping_problems,
    normalise,
    parse_map_options,
    suggest_mapping,
)

REALISTIC = [
    pytest.param(
        "customers",
        ["Customer ID", "First Name", "Last Name", "E-mail", "Mobile Number", "DOB",
         "custom.tier", "Notes"],
        {"customerId": "Customer ID", "customerAttributes.firstName": "First Name",
         "customerAttributes.lastName": "Last Name", "email": "E-mail",
         "mobile": "Mobile Number", "customerAttributes.dateOfBirth": "DOB",
         "customerAttributes.custom.tier": "custom.tier"},
        id="customers",
    ),
    pytest.param(
        "orders",
        ["Order Number", "user id", "Order Date", "Total Paid", "Discount", "SKU", "Qty",
         "price", "extra.note", "Line Items.Title", "Merchant ID", "Branch ID"],
        {"orderId": "Order Number", "customerId": "user id", "orderDate": "Order Date",
         "totalPaid": "Total Paid", "totalDiscount": "Discount", "lineItems.sku": "SKU",
         "lineItems.quantity": "Qty", "lineItems.price": "price", "extra.note": "extra.note",
         "lineItems.title": "Line Items.Title", "merchant.uniqueId": "Merchant ID",
         "merchant.branch.uniqueId": "Branch ID"},
        id="orders",
    ),
    pytest.param("balance-inquiries", ["Member ID", "Name"], {"customerId": "Member ID"},
                 id="balance-inquiries"),
    pytest.param(
        "adjustments", ["customer_id", "Points", "Comment"],
        {"customerId": "customer_id", "amount": "Points", "reason": "Comment"}, id="adjustments",
    ),
    pytest.param(
        "cashback",
        ["Customer ID", "Invoice No", "Transaction Date", "Amount", "Mobile Number"],
        {"customerId": "Customer ID", "transactionId": "Invoice No",
         "transactionTime": "Transaction Date", "amount": "Amount", "mobile": "Mobile Number"},
        id="cashback",
    ),
    pytest.param(
        "redemptions", ["CustomerId", "Points", "Transaction Date", "Hold Ref"],
        {"customerId": "CustomerId", "points": "Points", "transactionTime": "Transaction Date",
         "holdReference": "Hold Ref"},
        id="redemptions",
    ),
    pytest.param(
        "events", ["Player ID", "Event Name", "metadata.stars", "metadata.product id", "stars"],
        {"customerId": "Player ID", "event": "Event Name", "metadata.stars": "metadata.stars",
         "metadata.product id": "metadata.product id"},
        id="events",
    ),
]


@pytest.mark.parametrize(("slug", "headers", "expected"), REALISTIC)
def test_realistic_headers_are_suggested_for_each_batch_type(
    slug: str, headers: list[str], expected: dict[str, str]
) -> None:
    bt = get(slug)
    suggestion = suggest_mapping(bt, headers)
    assert suggestion.mapping == expected
    assert suggestion.unmapped_required == ()
    assert suggestion.unused_columns == tuple(h for h in headers if h not in expected.values())
    assert mapping_problems(bt, suggestion.mapping, headers) == []


def test_header_spellings_are_compared_without_case_spaces_or_punctuation() -> None:
    assert normalise("Customer ID") == normalise("customer_id") == normalise("customerId")
    assert normalise("E-mail") == normalise("email") != normalise("mail")
    for header in ("Customer ID", "customer_id", "customerid", "CUSTOMER-ID"):
        assert suggest_mapping(get("balance-inquiries"), [header]).mapping == {
            "customerId": header
        }


def test_match_kind_is_reported_per_field() -> None:
    suggestion = suggest_mapping(
        get("customers"), ["customerId", "First Name", "phone", "custom.tier"]
    )
    assert suggestion.how == {
        "customerId": "exact",
        "customerAttributes.firstName": "normalised",
        "mobile": "synonym",
        "customerAttributes.custom.tier": "dotted",
    }


def test_a_header_feeds_only_one_field_and_the_better_match_wins() -> None:
    # "Total Paid" is totalPaid's label; "Amount" is only a synonym, so it stays unused.
    suggestion = suggest_mapping(get("orders"), ["Amount", "Total Paid", "Order ID"])
    assert suggestion.mapping["totalPaid"] == "Total Paid"
    assert "Amount" in suggestion.unused_columns
    assert len(set(suggestion.mapping.values())) == len(suggestion.mapping)


def test_required_field_takes_a_shared_header_before_an_optional_one() -> None:
    bt = BatchType(
        slug="demo", title="Demo", description="", endpoint="/demo", operation="Demo",
        result_key="customerId",
        fields=(
            FieldSpec("amount", Kind.MONEY, "Optional amount"),
            FieldSpec("total", Kind.MONEY, "Total", required=True, synonyms=("amount",)),
        ),
    )
    assert suggest_mapping(bt, ["amount"]).mapping == {"total": "amount"}
    assert suggest_mapping(bt, ["amount", "total"]).mapping == {
        "total": "total", "amount": "amount"
    }


def test_ambiguous_names_go_to_the_field_the_spec_intends() -> None:
    # "email" is the merging email, not the profile one; "discount" the order's, not a line's;
    # "name" alone could be the merchant's or the branch's, so it is left for the operator.
    assert suggest_mapping(get("customers"), ["email"]).mapping == {"email": "email"}
    assert suggest_mapping(get("orders"), ["discount"]).mapping == {"totalDiscount": "discount"}
    assert suggest_mapping(get("cashback"), ["name"]).mapping == {}


def test_unmapped_required_fields_are_reported_except_a_generated_key() -> None:
    suggestion = suggest_mapping(get("cashback"), ["Customer ID", "Amount"])
    assert suggestion.unmapped_required == ("transactionTime",)  # transactionId is generated
    problems = mapping_problems(get("cashback"), suggestion.mapping, ["Customer ID", "Amount"])
    assert problems == ["Transaction time is required: map a column to it."]


def test_mapping_problems_name_every_fixable_mistake() -> None:
    bt = get("adjustments")
    headers = ["Customer", "Points"]
    problems = mapping_problems(
        bt, {"customerId": "Customer", "amount": "Customer", "bonus": "Points",
             "reason": "Why"}, headers
    )
    assert problems == [
        "'bonus' is not a field of Adjustments. Remove it or choose one of the listed fields.",
        "Column 'Why' (mapped to Reason) is not in the file. Choose one of the file's columns, "
        "or clear the field.",
        "Column 'Customer' is mapped to Customer ID and Amount. Map it to one field only.",
    ]
    assert mapping_problems(bt, {"customerId": "Customer", "amount": ""}, headers) == [
        "Amount is required: map a column to it."
    ]


def test_one_of_group_needs_at_least_one_column() -> None:
    problems = mapping_problems(
        get("redemptions"), {"customerId": "c", "transactionTime": "t"}, ["c", "t"]
    )
    assert problems == [
        "Map a column to at least one of Amount, Points and Hold reference; every row needs "
        "one of them."
    ]


def test_apply_mapping_renames_to_field_paths_and_keeps_row_numbers() -> None:
    frame = pd.DataFrame(
        {"Customer": ["cus-1", "cus-2"], "Pts": ["5", "-3"], "Other": ["x", "y"]},
        index=pd.Index([2, 5], name="row"),
    )
    mapped = apply_mapping(frame, {"customerId": "Customer", "amount": "Pts", "reason": ""})
    assert list(mapped.columns) == ["customerId", "amount"]
    assert list(mapped.index) == [2, 5]
    assert mapped.index.name == "row"
    assert mapped.loc[5, "amount"] == "-3"
    with pytest.raises(MappingError, match="no column 'Missing'"):
        apply_mapping(frame, {"customerId": "Missing"})


def test_cli_map_options_are_parsed() -> None:
    assert parse_map_options(["customerId=Customer ID", " amount = Amount = EGP "]) == {
        "customerId": "Customer ID",
        "amount": "Amount = EGP",
    }


@pytest.mark.parametrize("item", ["customerId", "=Customer", "customerId=", "  =  "])
def test_bad_cli_map_option_says_how_to_write_it(item: str) -> None:
    with pytest.raises(MappingError, match=r"field=Column Header"):
        parse_map_options([item])


def test_cli_map_option_given_twice_is_refused() -> None:
    with pytest.raises(MappingError, match="mapped twice"):
        parse_map_options(["amount=A", "amount=B"])


def test_saved_mappings_survive_a_new_store_and_are_kept_per_batch_type(tmp_path: Path) -> None:
    path = tmp_path / "config" / "mappings.json"
    store = MappingStore(path)
    store.save("cashback", "Branch export", {"customerId": "رقم العميل", "amount": "Amount"})
    store.save("cashback", "POS", {"customerId": "Customer"})
    store.save("adjustments", "Ops", {"customerId": "Customer", "reason": ""})
    again = MappingStore(path)
    assert again.names("cashback") == ["Branch export", "POS"]
    assert again.load("cashback", "Branch export") == {
        "customerId": "رقم العميل", "amount": "Amount"
    }
    assert again.load("adjustments", "Ops") == {"customerId": "Customer"}
    assert again.names("events") == []
    assert json.loads(path.read_text(encoding="utf-8"))["cashback"]["POS"] == {
        "customerId": "Customer"
    }
    assert [p.name for p in path.parent.iterdir()] == ["mappings.json"]  # no temp files left


def test_saving_under_an_existing_name_replaces_it_and_delete_forgets(tmp_path: Path) -> None:
    store = MappingStore(tmp_path / "m.json")
    store.save("cashback", "POS", {"customerId": "A"})
    store.save("cashback", "POS", {"customerId": "B"})
    assert store.load("cashback", "POS") == {"customerId": "B"}
    store.delete("cashback", "POS")
    assert store.names("cashback") == []


def test_loading_an_unknown_mapping_names_the_saved_ones(tmp_path: Path) -> None:
    store = MappingStore(tmp_path / "m.json")
    store.save("cashback", "POS", {"customerId": "A"})
    with pytest.raises(MappingError, match=r"No saved mapping 'Web'.*'POS'"):
        store.load("cashback", "Web")


def test_a_damaged_store_file_is_reported_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(MappingError, match="damaged"):
        MappingStore(path).names("cashback")


def test_a_mapping_needs_a_name(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="name"):
        MappingStore(tmp_path / "m.json").save("cashback", "  ", {"customerId": "A"})
