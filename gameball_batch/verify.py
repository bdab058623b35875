"""Pure decisions: what Gameball's evidence says about each row (applied, absent, unclear).

Gameball documents two look-ups that can confirm what a batch did (DESIGN.md, "Verification"):

- **Order Transactions** (reference §2.8, §3.9) lists, per order or transaction id, the
  transactions Gameball holds, or answers ``{customerId: <the id>, message: "Order Not
  Found"}``. It speaks for orders, cashback and redemptions: a transaction with the row's id
  and a matching amount or points → **applied**; with the row's id and a different amount
  → **unclear**, both values kept; not found → **absent**.
- **Balance Inquiries** (reference §2.3) give each customer's balance. An adjustment shows as
  a change between the balance snapshot taken just before its chunk was sent and the balance
  now: a change equal to the row's amount (times the factor learnt from rows of the same job
  known to be applied, when they agree on one) → **applied**; no change → **absent**; any
  other change, or a customer whose balance something else may have moved, → **unclear**.
  Never guessed.

Customers and balance inquiries are safe to resend, so they need no evidence (**not
verifiable**, and the note says why); events have no documented evidence and are always
**unclear**.

This module must not do I/O, touch the ledger, or import the client or streamlit: callers
gather the evidence (``verification.py``) and hand it over as plain values.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

APPLIED = "applied"
ABSENT = "absent"
UNCLEAR = "unclear"
NOT_VERIFIABLE = "not_verifiable"
VERDICTS = (APPLIED, ABSENT, UNCLEAR, NOT_VERIFIABLE)

ORDER_LOOKUP_TYPES = ("orders", "cashback", "redemptions")  # answered by Order Transactions
BALANCE_TYPES = ("adjustments",)
RESEND_SAFE_NO_EVIDENCE = ("customers", "balance-inquiries")
NOT_FOUND = "order not found"
# Entries that undo a transaction rather than record it: never the row's own evidence.
_REVERSALS = frozenset({"refund", "partialrefund", "cancel"})
_TOLERANCE = 0.005  # money and points compare to the cent


@dataclass(frozen=True)
class RowFacts:
    """What we sent for one row: its key, customer and the API item."""

    row: int
    key: str
    customer: str
    item: Mapping[str, Any]
    status: str = ""  # our ledger status, for the report
    chunk: int = 0


@dataclass(frozen=True)
class Verdict:
    """One row's verdict and the evidence behind it (plain JSON values, ``note`` in words)."""

    row: int
    customer: str
    key: str
    verdict: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def note(self) -> str:
        return str(self.evidence.get("note", ""))

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "verdict": self.verdict, "evidence": self.evidence}


def counts(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """How many rows got each verdict (every verdict named, zeros included)."""
    found = Counter(v.verdict for v in verdicts)
    return {name: found.get(name, 0) for name in VERDICTS}


# --- types that need no evidence, or have none ---------------------------------------------


def no_evidence_needed(slug: str, facts: RowFacts) -> Verdict:
    """Customers and balance inquiries: resending changes nothing, so no evidence is needed."""
    note = ("Safe to resend: a customer upsert changes nothing when repeated, so no evidence "
            "is needed." if slug == "customers" else
            "Safe to resend: a balance inquiry only reads, so no evidence is needed.")
    return Verdict(facts.row, facts.customer, facts.key, NOT_VERIFIABLE, {"note": note})


def events_unclear(facts: RowFacts) -> Verdict:
    return Verdict(facts.row, facts.customer, facts.key, UNCLEAR, {
        "note": "Gameball documents no look-up for events: an operator decides."})


# --- Order Transactions --------------------------------------------------------------------


@dataclass(frozen=True)
class OrderEvidence:
    """Gameball's answer for one id: its transactions, or the failure message."""

    found: bool
    transactions: tuple[Mapping[str, Any], ...] = ()
    message: str | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(abs(a) - abs(b)) <= _TOLERANCE


def expected_values(slug: str, item: Mapping[str, Any]) -> dict[str, float]:
    """What the row asked for, by the unit Gameball reports it in: ``amount`` and/or
    ``points``. Orders: the total paid; cashback: the amount; redemptions: the points or
    the amount (a hold reference names neither)."""
    wanted: dict[str, float] = {}
    if slug == "orders":
        value = _number(item.get("totalPaid"))
        if value is not None:
            wanted["amount"] = value
        return wanted
    for name in ("amount", "points"):
        value = _number(item.get(name))
        if value is not None:
            wanted[name] = value
    return wanted


def _own_entries(key: str, transactions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Entries that record the row's transaction: its id (or none given), not a reversal."""
    own = []
    for entry in transactions:
        kind = str(entry.get("transactionType", "")).replace(" ", "").lower()
        if kind in _REVERSALS:
            continue
        tid = entry.get("transactionId")
        if tid is None or str(tid).strip() in ("", key):
            own.append(entry)
    return own


def _summary(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {name: entry.get(name) for name in (
        "transactionType", "transactionId", "gameballTransactionId", "amount",
        "equivalentPoints", "transactionDate") if name in entry}


def order_verdict(slug: str, facts: RowFacts, evidence: OrderEvidence | None) -> Verdict:
    """An order, cashback or redemption row against Order Transactions' answer for its id."""
    base: dict[str, Any] = {"source": "Order Transactions", "id": facts.key}

    def verdict(name: str, note: str, **more: Any) -> Verdict:
        return Verdict(facts.row, facts.customer, facts.key, name, {**base, **more, "note": note})

    if evidence is None:
        return verdict(UNCLEAR, "Order Transactions gave no answer for this id.")
    if not evidence.found:
        message = evidence.message or ""
        if message.strip().lower() == NOT_FOUND:
            return verdict(ABSENT, f"Gameball holds no transaction with id {facts.key}.",
                           gameball_message=message)
        return verdict(UNCLEAR, "Order Transactions could not look this id up.",
                       gameball_message=message)
    own = _own_entries(facts.key, evidence.transactions)
    if not own:
        return verdict(UNCLEAR, "Gameball knows this id but lists no transaction of it.",
                       transactions=[_summary(e) for e in evidence.transactions])
    wanted = expected_values(slug, facts.item)
    for entry in own:
        got = {"amount": _number(entry.get("amount")),
               "points": _number(entry.get("equivalentPoints"))}
        if any(_same(value, got[name]) for name, value in wanted.items()):
            points = got["points"]
            return verdict(APPLIED, f"Gameball holds transaction {facts.key} with the same "
                           f"{' or '.join(wanted)}.", expected=wanted,
                           transaction=_summary(entry),
                           points=None if points is None else abs(points))
    if not wanted:
        entry = own[0]
        points = _number(entry.get("equivalentPoints"))
        return verdict(APPLIED, f"Gameball holds transaction {facts.key}; the row names no "
                       "amount or points to compare.", transaction=_summary(entry),
                       points=None if points is None else abs(points))
    return verdict(UNCLEAR, f"Gameball holds transaction {facts.key} with a different amount.",
                   expected=wanted, found=[_summary(e) for e in own])


def order_evidence_of(successful: Iterable[Mapping[str, Any]],
                      failed: Iterable[Mapping[str, Any]]) -> dict[str, OrderEvidence]:
    """Order Transactions' result items by id: ``successful`` ``{orderId, transactions[],
    count}``; ``failed`` ``{customerId: <the id>, message}`` (reference §2.8)."""
    found: dict[str, OrderEvidence] = {}
    for item in successful:
        key = _id(item.get("orderId"))
        if key is None:
            continue
        raw = item.get("transactions")
        entries = tuple(e for e in raw if isinstance(e, Mapping)) if isinstance(raw, list) else ()
        found[key] = OrderEvidence(True, entries)
    for item in failed:
        key = _id(item.get("customerId"))
        if key is not None and key not in found:
            message = item.get("message", item.get("error"))
            found[key] = OrderEvidence(False, (), message if isinstance(message, str) else None)
    return found


def _id(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


# --- balances (adjustments) ----------------------------------------------------------------


@dataclass(frozen=True)
class BalanceEvidence:
    """A customer's balance before the row's chunk was sent and now (points).

    ``snapshot_error``: why there is no snapshot (it failed, or the chunk was sent without
    one); ``moved_by``: why something else may have moved this balance since the snapshot.
    """

    before: float | None
    after: float | None
    snapshot_error: str | None = None
    after_error: str | None = None
    moved_by: str | None = None
    earned_before: float | None = None  # total points ever earned (§3.8), when reported
    earned_after: float | None = None


@dataclass(frozen=True)
class Factor:
    """Points per unit of an adjustment's ``amount``; ``learnt`` when applied rows showed it."""

    value: float = 1.0
    learnt: bool = False
    note: str = "Amounts are compared with points one to one: no applied row of this job " \
                "shows another factor."


def learn_factor(pairs: Iterable[tuple[float, float]]) -> Factor:
    """The factor between amount and balance change over rows known to be applied.

    Used only when every such row agrees (to the rounding Gameball applies); otherwise, or
    with none, amounts are compared one to one and the note says so.
    """
    ratios = [delta / amount for amount, delta in pairs if amount]
    if not ratios:
        return Factor()
    first = ratios[0]
    if all(abs(r - first) <= max(abs(first) * 0.01, 1e-9) for r in ratios):
        return Factor(first, True, f"{len(ratios)} row(s) of this job known to be applied "
                                   f"moved balances by {first:g} point(s) per unit of amount; "
                                   "that factor is used.")
    return Factor(note="Rows of this job known to be applied disagree on a factor between "
                       "amount and points, so amounts are compared one to one.")


def balance_of(item: Mapping[str, Any]) -> float | None:
    """A balance-inquiry result item's balance: v4 ``totalPointsBalance`` (reference §3.8)
    or v3 ``pointsBalance``."""
    for name in ("totalPointsBalance", "pointsBalance"):
        value = _number(item.get(name))
        if value is not None:
            return value
    return None


def earned_of(item: Mapping[str, Any]) -> float | None:
    """A balance item's total points ever earned (``totalEarnedPoints``, reference §3.8)."""
    return _number(item.get("totalEarnedPoints"))


def adjustment_verdict(facts: RowFacts, balance: BalanceEvidence, factor: Factor) -> Verdict:
    """An adjustment row against its customer's balance before its chunk was sent and now."""
    amount = _number(facts.item.get("amount"))
    expected = None if amount is None else _expected_points(amount, factor)
    evidence: dict[str, Any] = {"source": "Balance Inquiries", "before": balance.before,
                                "after": balance.after, "expected_change": expected,
                                "factor": factor.value, "factor_note": factor.note}

    def verdict(name: str, note: str) -> Verdict:
        return Verdict(facts.row, facts.customer, facts.key, name, {**evidence, "note": note})

    if balance.before is None:
        why = balance.snapshot_error or "no balance was recorded before the chunk was sent"
        return verdict(UNCLEAR, f"No snapshot: {why}.")
    if balance.after is None:
        why = balance.after_error or "Gameball did not report this customer's balance"
        return verdict(UNCLEAR, f"No balance now: {why}.")
    change = balance.after - balance.before
    evidence["change"] = change
    if balance.moved_by:
        return verdict(UNCLEAR, f"Balance moved by {change:g}; {balance.moved_by}, so it "
                                "cannot tell.")
    if expected is None:
        return verdict(UNCLEAR, "The row's amount is not a number.")
    if abs(change - expected) <= _TOLERANCE:
        return verdict(APPLIED, f"Balance moved by {change:g}, as the row asks.")
    if abs(change) <= _TOLERANCE:
        earned = _earned_change(balance)
        if earned:  # points were added and spent again: the balance alone cannot tell
            evidence["earned_change"] = earned
            return verdict(UNCLEAR, f"Balance unchanged, but {earned:g} point(s) were earned "
                                    "meanwhile: other activity may hide the row.")
        return verdict(ABSENT, "Balance unchanged since just before the chunk was sent.")
    return verdict(UNCLEAR, f"Balance moved by {change:g}, the row asks for {expected:g}: "
                            "other activity may have moved it.")


def _earned_change(balance: BalanceEvidence) -> float:
    if balance.earned_before is None or balance.earned_after is None:
        return 0.0
    change = balance.earned_after - balance.earned_before
    return change if abs(change) > _TOLERANCE else 0.0


def _expected_points(amount: float, factor: Factor) -> float:
    points = amount * factor.value
    # Gameball turns money into whole points; a learnt factor is compared after rounding.
    return float(round(points)) if factor.learnt or float(points).is_integer() else points


def reversal_item(item: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """The adjustment item that undoes ``item``: same customer, amount negated."""
    amount = _number(item.get("amount"))
    if amount is None:
        raise ValueError(f"the row's amount is not a number: {item.get('amount')!r}")
    negated: float | int = -amount
    if float(negated).is_integer():
        negated = int(negated)
    return {"customerId": str(item.get("customerId", "")), "amount": negated,
            "reason": reason[:255]}
