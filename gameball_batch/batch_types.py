"""The seven Gameball batch types, as data.

Everything else (mapping, validation, payload building, the sandbox, the runner, the
console) reads these specs; none of them restates a field. Adding a field or a type is
one edit here. Field lists follow ``shared/reference/gameball-api.md`` §2, with the
single-API extras of §3 that §10.20 recommends accepting.

A field's ``path`` is its dotted place in the API item (``customerAttributes.firstName``,
``lineItems.quantity``). Two spreadsheet-only paths exist and never reach the API as such:
``event`` (the events type's event-name column, turned into the key of ``events``) and
``metadata.<key>`` (that event's metadata). Paths under a type's ``open_prefixes`` are
free-form (``customerAttributes.custom.<key>``).

This module must not import pandas, httpx or streamlit: it is pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import StrEnum
from typing import Literal

API_PREFIX = "/api/v4.0/integrations"
MAX_ITEMS_PER_REQUEST = 1000  # reference §1.4

Sign = Literal["any", "positive", "nonnegative", "nonzero"]


class Kind(StrEnum):
    """How a cell's text is parsed and sent."""

    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    MONEY = "money"  # a number with decimals, in the account's currency (§8.3)
    POINTS = "points"  # a whole number of points (§8.3)
    INTEGER = "integer"  # a whole number that is not points (days, counts)
    NUMBER = "number"  # any other decimal number (quantity, weight)
    TIMESTAMP = "timestamp"  # sent as UTC ISO-8601 with Z (§8.2)
    DATE = "date"  # sent as YYYY-MM-DD
    BOOLEAN = "boolean"
    ENUM = "enum"
    LIST = "list"  # comma-separated text in one cell, sent as an array of strings


@dataclass(frozen=True)
class FieldSpec:
    """One field of a batch item."""

    path: str
    kind: Kind
    label: str
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    sign: Sign = "any"
    maximum: float | None = None
    max_length: int | None = None
    length_warns: bool = False  # over max_length is a warning, not an error (undocumented limit)
    past_only: bool = False  # Gameball rejects future times (9007)
    line_item: bool = False  # orders: varies per line-item row instead of per order
    synonyms: tuple[str, ...] = ()
    example: str = ""

    @property
    def name(self) -> str:
        """The last segment of the path, the field's own name."""
        return self.path.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class BatchType:
    """One batch type: endpoint, fields and the rules that protect a submission."""

    slug: str
    title: str
    description: str
    endpoint: str  # under API_PREFIX
    operation: str  # the job's ``operation`` name (reference §10.8)
    result_key: str  # the item field that identifies a per-item result (DESIGN.md)
    fields: tuple[FieldSpec, ...]
    one_of: tuple[tuple[str, ...], ...] = ()  # exactly one of each group must be given
    open_prefixes: tuple[str, ...] = ()  # free-form dotted paths (custom attributes, metadata)
    money_fields: tuple[str, ...] = ()
    points_fields: tuple[str, ...] = ()
    generated_key: str | None = None  # a key we may generate when the file has none
    group_by: str | None = None  # rows sharing this field form one item (orders, events)
    server_dedupes: bool = False  # the server refuses a repeated key (9004): safe to resend
    idempotent: bool = False  # resending changes nothing (upsert, read-only)
    repeated_customer: Literal["fine", "warn", "error"] = "fine"
    key_fields: tuple[str, ...] = ()  # business key for duplicate guards across jobs
    _by_path: dict[str, FieldSpec] = dc_field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_path.update({f.path: f for f in self.fields})

    @property
    def path(self) -> str:
        """The creation path under ``/api/v4.0/integrations``."""
        return API_PREFIX + self.endpoint

    @property
    def resend_safe(self) -> bool:
        """Whether an in-doubt chunk may be sent again without an operator (DESIGN.md §3)."""
        return self.server_dedupes or self.idempotent

    @property
    def required(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.required)

    def spec_for(self, path: str) -> FieldSpec | None:
        """The spec for a path, including free-form paths under an open prefix (as text)."""
        spec = self._by_path.get(path)
        if spec is not None:
            return spec
        for prefix in self.open_prefixes:
            if path.startswith(prefix) and len(path) > len(prefix):
                return FieldSpec(path=path, kind=Kind.TEXT, label=path[len(prefix) :])
        return None

    def is_known(self, path: str) -> bool:
        return self.spec_for(path) is not None


# --- shared field builders ---------------------------------------------------------------

CHANNELS = ("mobile", "pos", "web", "callcenter")


def _customer_id() -> FieldSpec:
    return FieldSpec(
        "customerId",
        Kind.TEXT,
        "Customer ID",
        required=True,
        help="Your permanent ID for the customer (database id, random string, email).",
        synonyms=(
            "customer id",
            "customer",
            "customer_id",
            "user id",
            "userid",
            "player id",
            "playerUniqueId",
            "client id",
            "member id",
            "customer number",
            "customer no",
            "external id",
        ),
        example="cus-1001",
    )


def _merging(prefix: str = "") -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(
            prefix + "email",
            Kind.EMAIL,
            "Email",
            help="Needed when the account merges channels by email.",
            synonyms=("email address", "e-mail", "mail"),
            example="amira@example.com",
        ),
        FieldSpec(
            prefix + "mobile",
            Kind.PHONE,
            "Mobile",
            help="Needed when the account merges channels by mobile. International form, +20…",
            synonyms=("mobile number", "phone", "phone number", "mobile no", "cell", "msisdn"),
            example="+201000000001",
        ),
    )


def _merchant(prefix: str = "merchant.") -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(prefix + "uniqueId", Kind.TEXT, "Merchant ID", synonyms=("merchant id",)),
        FieldSpec(prefix + "name", Kind.TEXT, "Merchant name", synonyms=("merchant name",)),
        FieldSpec(prefix + "branch.uniqueId", Kind.TEXT, "Branch ID", synonyms=("branch id",)),
        FieldSpec(prefix + "branch.name", Kind.TEXT, "Branch name", synonyms=("branch name",)),
    )


def _transaction(example_id: str) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec(
            "transactionId",
            Kind.TEXT,
            "Transaction ID",
            required=True,
            help="Your unique order or invoice number. Left empty, one is generated per row "
            "from the file's fingerprint, so sending the same file twice reuses the same ids.",
            synonyms=(
                "transaction id",
                "transaction",
                "txn id",
                "invoice",
                "invoice number",
                "invoice no",
                "receipt",
                "receipt number",
                "reference",
            ),
            example=example_id,
        ),
        FieldSpec(
            "transactionTime",
            Kind.TIMESTAMP,
            "Transaction time",
            required=True,
            past_only=True,
            help="When it happened, in UTC (ISO 8601). Must not be in the future.",
            synonyms=(
                "transaction date",
                "transaction time",
                "date",
                "time",
                "timestamp",
                "txn date",
                "invoice date",
                "purchase date",
                "created at",
            ),
            example="2026-11-21T12:00:00Z",
        ),
    )


def _return_window(path: str) -> FieldSpec:
    return FieldSpec(
        path,
        Kind.INTEGER,
        "Return window (days)",
        sign="nonnegative",
        maximum=7300,
        help="Days the reward stays pending, 0 to 7300.",
        synonyms=("return window",),
    )


# --- the seven types ---------------------------------------------------------------------

CUSTOMERS = BatchType(
    slug="customers",
    title="Customer Data",
    description="Create or update customer profiles in bulk (an upsert: sending a customer "
    "again updates it).",
    endpoint="/batch/customers",
    operation="Customer Creation Batch Job",
    result_key="customerId",
    fields=(
        _customer_id(),
        *_merging(),
        FieldSpec("deviceToken", Kind.TEXT, "Device token"),
        FieldSpec("osType", Kind.TEXT, "OS type", synonyms=("os",)),
        FieldSpec("referrerCode", Kind.TEXT, "Referrer code", synonyms=("referral code",)),
        FieldSpec("guest", Kind.BOOLEAN, "Guest", help="true for guests", synonyms=("is guest",)),
        FieldSpec(
            "customerAttributes.displayName",
            Kind.TEXT,
            "Display name",
            synonyms=("display name", "name", "full name", "customer name"),
        ),
        FieldSpec(
            "customerAttributes.firstName",
            Kind.TEXT,
            "First name",
            synonyms=("first name", "given name", "fname"),
            example="Amira",
        ),
        FieldSpec(
            "customerAttributes.lastName",
            Kind.TEXT,
            "Last name",
            synonyms=("last name", "surname", "family name", "lname"),
            example="Saleh",
        ),
        FieldSpec("customerAttributes.email", Kind.EMAIL, "Profile email"),
        FieldSpec(
            "customerAttributes.gender",
            Kind.TEXT,
            "Gender",
            help="Free text: Gameball documents \"M\", \"F\" or other values.",
            synonyms=("gender", "sex"),
        ),
        FieldSpec("customerAttributes.mobile", Kind.PHONE, "Profile mobile"),
        FieldSpec(
            "customerAttributes.dateOfBirth",
            Kind.DATE,
            "Date of birth",
            synonyms=("date of birth", "dob", "birthday", "birth date"),
            example="1993-04-02",
        ),
        FieldSpec(
            "customerAttributes.joinDate",
            Kind.DATE,
            "Join date",
            synonyms=("join date", "joined", "signup date", "registration date"),
        ),
        FieldSpec("customerAttributes.country", Kind.TEXT, "Country", synonyms=("country",)),
        FieldSpec("customerAttributes.city", Kind.TEXT, "City", synonyms=("city",)),
        FieldSpec("customerAttributes.zip", Kind.TEXT, "ZIP", synonyms=("zip", "postal code")),
        FieldSpec(
            "customerAttributes.preferredLanguage",
            Kind.TEXT,
            "Preferred language",
            synonyms=("language", "preferred language"),
        ),
        FieldSpec("customerAttributes.source", Kind.TEXT, "Source", synonyms=("source",)),
        FieldSpec("customerAttributes.utms", Kind.LIST, "UTMs", synonyms=("utms", "utm")),
        FieldSpec("customerAttributes.devices", Kind.LIST, "Devices", synonyms=("devices",)),
        FieldSpec(
            "customerAttributes.paymentMethods",
            Kind.LIST,
            "Payment methods",
            synonyms=("payment methods",),
        ),
        FieldSpec(
            "customerAttributes.totalSpent",
            Kind.MONEY,
            "Total spent",
            sign="nonnegative",
            synonyms=("total spent", "lifetime value", "ltv"),
        ),
        FieldSpec(
            "customerAttributes.lastOrderDate",
            Kind.DATE,
            "Last order date",
            synonyms=("last order date",),
        ),
        FieldSpec(
            "customerAttributes.totalOrders",
            Kind.INTEGER,
            "Total orders",
            sign="nonnegative",
            synonyms=("total orders", "order count"),
        ),
        FieldSpec(
            "customerAttributes.avgOrderAmount",
            Kind.MONEY,
            "Average order amount",
            sign="nonnegative",
            synonyms=("average order amount", "aov", "avg order value"),
        ),
        FieldSpec(
            "customerAttributes.channel",
            Kind.ENUM,
            "Channel",
            choices=CHANNELS,
            synonyms=("channel",),
        ),
    ),
    open_prefixes=("customerAttributes.custom.",),
    money_fields=("customerAttributes.totalSpent",),
    idempotent=True,
    repeated_customer="error",
    key_fields=("customerId",),
)

ORDERS = BatchType(
    slug="orders",
    title="Orders",
    description="Back-fill orders so customers earn on past purchases. One row per order, or "
    "one row per line item with the order's fields repeated on each of its rows.",
    endpoint="/batch/orders",
    operation="Order Creation Batch Job",
    result_key="orderId",
    fields=(
        _customer_id(),
        *_merging(),
        FieldSpec(
            "orderId",
            Kind.TEXT,
            "Order ID",
            required=True,
            help="Unique per store; case-sensitive.",
            synonyms=("order id", "order", "order number", "order no", "order ref"),
            example="SO-10001",
        ),
        FieldSpec(
            "orderDate",
            Kind.TIMESTAMP,
            "Order date",
            required=True,
            past_only=True,
            synonyms=("order date", "order time", "date", "purchase date", "created at"),
            example="2026-11-20T09:15:00Z",
        ),
        FieldSpec(
            "totalPaid",
            Kind.MONEY,
            "Total paid",
            required=True,
            sign="nonnegative",
            help="Amount actually paid after discounts; rewards are computed from it.",
            synonyms=("total paid", "paid", "amount paid", "net total", "amount", "total"),
            example="420.50",
        ),
        FieldSpec("totalPrice", Kind.MONEY, "Total price", sign="positive",
                  synonyms=("total price", "gross total", "subtotal")),
        FieldSpec("totalDiscount", Kind.MONEY, "Total discount", sign="nonnegative",
                  synonyms=("discount", "total discount")),
        FieldSpec("totalShipping", Kind.MONEY, "Total shipping", sign="nonnegative",
                  synonyms=("shipping", "total shipping")),
        FieldSpec("totalTax", Kind.MONEY, "Total tax", sign="nonnegative",
                  synonyms=("tax", "total tax", "vat")),
        FieldSpec("lineItems.productId", Kind.TEXT, "Product ID", line_item=True,
                  synonyms=("product id", "product", "item id")),
        FieldSpec("lineItems.quantity", Kind.NUMBER, "Quantity", sign="positive",
                  line_item=True, synonyms=("quantity", "qty")),
        FieldSpec("lineItems.price", Kind.MONEY, "Unit price", sign="nonnegative",
                  line_item=True, synonyms=("price", "unit price", "item price")),
        FieldSpec("lineItems.sku", Kind.TEXT, "SKU", line_item=True, synonyms=("sku",)),
        FieldSpec("lineItems.title", Kind.TEXT, "Product title", line_item=True,
                  synonyms=("title", "product name", "item name")),
        FieldSpec("lineItems.tags", Kind.LIST, "Tags", line_item=True, synonyms=("tags",)),
        FieldSpec("lineItems.category", Kind.LIST, "Category", line_item=True,
                  synonyms=("category", "categories")),
        FieldSpec("lineItems.collection", Kind.LIST, "Collections", line_item=True,
                  synonyms=("collection", "collections")),
        FieldSpec("lineItems.weight", Kind.NUMBER, "Weight", sign="nonnegative",
                  line_item=True, synonyms=("weight",)),
        FieldSpec("lineItems.vendor", Kind.TEXT, "Vendor", line_item=True,
                  synonyms=("vendor", "brand")),
        FieldSpec("lineItems.taxes", Kind.MONEY, "Line taxes", sign="nonnegative",
                  line_item=True, synonyms=("line taxes", "item tax")),
        FieldSpec("lineItems.discount", Kind.MONEY, "Line discount", sign="nonnegative",
                  line_item=True, synonyms=("line discount", "item discount")),
        FieldSpec("redemption.pointsHoldReference", Kind.TEXT, "Points hold reference",
                  synonyms=("hold reference",)),
        FieldSpec("redemption.couponsLockReference", Kind.TEXT, "Coupons lock reference"),
        FieldSpec("redemption.couponCodes", Kind.LIST, "Coupon codes",
                  synonyms=("coupon", "coupon code", "coupons")),
        *_merchant(),
        FieldSpec("guest", Kind.BOOLEAN, "Guest"),
        FieldSpec("channel", Kind.ENUM, "Channel", choices=CHANNELS),
        FieldSpec("cartId", Kind.TEXT, "Cart ID", synonyms=("cart id",)),
        _return_window("cashbackConfigurations.returnWindow"),
    ),
    open_prefixes=("extra.",),
    money_fields=("totalPaid",),
    group_by="orderId",
    server_dedupes=True,
    key_fields=("orderId",),
)

BALANCE_INQUIRIES = BatchType(
    slug="balance-inquiries",
    title="Balance Inquiries",
    description="Read the points balance of many customers. Changes nothing.",
    endpoint="/batch/balance-inquiry",
    operation="Balance Inquiry Batch Job",
    result_key="customerId",
    fields=(_customer_id(),),
    idempotent=True,
    repeated_customer="warn",
    key_fields=("customerId",),
)

ADJUSTMENTS = BatchType(
    slug="adjustments",
    title="Adjustments",
    description="Add to or deduct from customers' balances by hand: positive adds, negative "
    "deducts. Not safe to resend: an in-doubt chunk waits for an operator.",
    endpoint="/batch/balance-adjustment",
    operation="Balance Adjustment Batch Job",
    result_key="customerId",
    fields=(
        _customer_id(),
        FieldSpec(
            "amount",
            Kind.MONEY,
            "Amount",
            required=True,
            sign="nonzero",
            help="Positive adds, negative deducts (money value in the account's currency; "
            "Gameball does not document the unit).",
            synonyms=("amount", "adjustment", "value", "points", "delta"),
            example="50",
        ),
        FieldSpec(
            "reason",
            Kind.TEXT,
            "Reason",
            max_length=255,
            length_warns=True,  # only the single redeem API documents the 255 limit
            help="Up to 255 characters is safe; a longer reason is sent, with a warning.",
            synonyms=("reason", "note", "comment", "description"),
            example="Service recovery",
        ),
    ),
    money_fields=("amount",),
    repeated_customer="warn",
    key_fields=("customerId", "amount", "reason"),
)

CASHBACK = BatchType(
    slug="cashback",
    title="Cashback Rewards",
    description="Award points through the cashback program, from each transaction's amount.",
    endpoint="/batch/cashback",
    operation="Cashback Batch Job",
    result_key="transactionId",
    fields=(
        _customer_id(),
        *_merging(),
        *_transaction("INV-88121"),
        FieldSpec(
            "amount",
            Kind.MONEY,
            "Amount",
            required=True,
            sign="positive",
            help="Money value of the transaction to reward; must be more than 0.",
            synonyms=("amount", "transaction amount", "total", "value", "spend", "paid"),
            example="150.75",
        ),
        *_merchant(),
        _return_window("configurations.returnWindow"),
    ),
    money_fields=("amount",),
    generated_key="transactionId",
    server_dedupes=True,
    key_fields=("customerId", "transactionId", "amount", "transactionTime"),
)

REDEMPTIONS = BatchType(
    slug="redemptions",
    title="Redemptions",
    description="Let customers pay with points. Each row gives exactly one of amount, points or "
    "hold reference.",
    endpoint="/batch/redeem",
    operation="Redeem Batch Job",
    result_key="transactionId",
    fields=(
        _customer_id(),
        *_merging(),
        *_transaction("RED-5001"),
        FieldSpec("amount", Kind.MONEY, "Amount", sign="positive",
                  help="Money value to redeem (converted through the redemption factor).",
                  synonyms=("amount", "redeem amount", "value"), example=""),
        FieldSpec("points", Kind.POINTS, "Points", sign="positive",
                  help="Whole points to redeem.",
                  synonyms=("points", "redeem points", "points to redeem"), example="300"),
        FieldSpec("holdReference", Kind.TEXT, "Hold reference",
                  help="Reference returned by Gameball's Hold Points API.",
                  synonyms=("hold reference", "hold ref", "hold")),
        FieldSpec("reason", Kind.TEXT, "Reason", max_length=255, synonyms=("reason", "note")),
        FieldSpec("ignoreOTP", Kind.BOOLEAN, "Ignore OTP", synonyms=("ignore otp",)),
        *_merchant(),
    ),
    one_of=(("amount", "points", "holdReference"),),
    money_fields=("amount",),
    points_fields=("points",),
    generated_key="transactionId",
    server_dedupes=True,
    key_fields=("customerId", "transactionId", "amount", "points", "transactionTime"),
)

EVENTS = BatchType(
    slug="events",
    title="Events",
    description="Replay customer actions (e.g. write_review). One row per event: a customer "
    "column, an event-name column, and one 'metadata.<key>' column per metadata value. Rows "
    "of the same customer are sent together.",
    endpoint="/batch/events",
    operation="Events Batch Job",
    result_key="customerId",
    fields=(
        _customer_id(),
        FieldSpec(
            "event",
            Kind.TEXT,
            "Event name",
            required=True,
            help="The event's system name, as configured in Gameball (e.g. write_review).",
            synonyms=("event", "event name", "action", "event type"),
            example="write_review",
        ),
    ),
    open_prefixes=("metadata.",),
    group_by="customerId",
    key_fields=("customerId", "event"),
)

BATCH_TYPES: dict[str, BatchType] = {
    t.slug: t
    for t in (CUSTOMERS, ORDERS, BALANCE_INQUIRIES, ADJUSTMENTS, CASHBACK, REDEMPTIONS, EVENTS)
}


class UnknownBatchType(ValueError):
    """Raised for a slug that is not one of the seven."""


def get(slug: str) -> BatchType:
    """The batch type for a slug, with a message that lists the valid slugs."""
    try:
        return BATCH_TYPES[slug]
    except KeyError:
        valid = ", ".join(BATCH_TYPES)
        raise UnknownBatchType(f"Unknown batch type '{slug}'. Choose one of: {valid}.") from None
