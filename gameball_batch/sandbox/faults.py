"""Fault injection settings of the sandbox (errors, drops, 429 bursts, spellings).

Every field is settable at start and at runtime; counters fire on exactly the next N
matching requests, probabilities draw from a seeded RNG. No I/O here.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

STATUS_SPELLINGS: dict[str, dict[str, str]] = {
    "lower": {},  # reference §10.3 default
    "capitalised": {
        "queued": "Queued",
        "running": "Running",
        "completed": "Completed",
        "failed": "Failed",
        "stopped": "Stopped",
    },
    "openapi": {"queued": "pending", "running": "processing"},
    "v3": {"queued": "pending", "running": "inProgress", "completed": "finished"},
}
MESSAGE_KEYS = ("message", "error", "mixed")  # §9 C7; "mixed" alternates as the tutorial does


@dataclass(kw_only=True)
class Faults:
    """Fault injection for tests and training; every field is settable at runtime.

    Counters (``*_next``) make a fault happen on the next N matching requests, for
    deterministic tests; probabilities draw from a seeded RNG. Creation faults apply to
    creation requests only; ``status_errors_next`` to status requests; ``rate_limit_next``
    and ``latency`` to every API request.
    """

    error_before: float = 0.0  # probability of a 500 before anything is applied
    error_after: float = 0.0  # probability of a 500 after the job was applied (in doubt)
    drop_after: float = 0.0  # probability of closing the socket after applying
    error_before_next: int = 0
    error_after_next: int = 0
    drop_after_next: int = 0
    status_errors_next: int = 0
    rate_limit_next: int = 0  # a 429 burst: the next N API requests are refused
    latency: float = 0.0  # seconds added before every API answer
    status_spelling: str = "lower"
    message_key: str = "message"
    seed: int = 0

    def __post_init__(self) -> None:
        self.check()
        self._rng = random.Random(self.seed)

    def check(self) -> None:
        """Raise ValueError with an operator message for an impossible setting."""
        for name in ("error_before", "error_after", "drop_after"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name} is a probability from 0 to 1, got {value}")
        for name in ("error_before_next", "error_after_next", "drop_after_next",
                     "status_errors_next", "rate_limit_next"):
            if getattr(self, name) < 0:
                raise ValueError(f"fault {name} counts requests and cannot be negative")
        if self.latency < 0:
            raise ValueError("fault latency is seconds and cannot be negative")
        if self.status_spelling not in STATUS_SPELLINGS:
            choices = ", ".join(STATUS_SPELLINGS)
            raise ValueError(f"fault status_spelling must be one of {choices}")
        if self.message_key not in MESSAGE_KEYS:
            raise ValueError(f"fault message_key must be one of {', '.join(MESSAGE_KEYS)}")

    def take(self, name: str) -> bool:
        """Whether fault ``name`` fires now; a counter is used up before a probability."""
        counter = f"{name}_next"
        if getattr(self, counter, 0) > 0:
            setattr(self, counter, getattr(self, counter) - 1)
            return True
        probability = getattr(self, name, 0.0)
        return bool(probability) and self._rng.random() < probability

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with ``changes`` applied (values parsed from text when needed)."""
        known = {f.name: f for f in fields(self)}
        parsed: dict[str, Any] = {}
        for name, raw in changes.items():
            key = name.replace("-", "_")
            if key not in known:
                raise ValueError(f"unknown fault '{name}'; known: {', '.join(known)}")
            parsed[key] = _parse_fault_value(key, raw, getattr(self, key))
        return replace(self, **parsed)


def _parse_fault_value(name: str, raw: Any, current: Any) -> Any:
    """A fault value from JSON or CLI text, as the type of its current value."""
    if isinstance(current, str):
        return str(raw)
    if isinstance(raw, bool):
        raise ValueError(f"fault {name} needs a number, got '{raw}'")
    try:
        return int(str(raw)) if isinstance(current, int) else float(str(raw))
    except ValueError:
        raise ValueError(f"fault {name} needs a number, got '{raw}'") from None


def parse_fault_options(items: Iterable[str]) -> dict[str, str]:
    """``["error_after=0.5", "latency=0.2"]`` → a dict, for the CLI's ``--fault``."""
    parsed: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--fault needs NAME=VALUE, got '{item}'")
        parsed[name.strip()] = value.strip()
    return parsed

