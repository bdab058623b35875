"""Who may do what: roles from settings, and whether sign-in is required.

Roles come from the ``[roles]`` section of secrets.toml: lists of emails, ``@domain``
entries or ``*``. Viewers see jobs, operators create them, approvers approve; operators
and approvers can also view. With no ``[roles]`` section every signed-in person (or, in
sandbox mode, the local user) holds every role, and the console says so in Settings.

Pure: the console reads the signed-in identity from ``st.user`` and passes it here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gameball_batch.settings import Settings

LOCAL_ACTOR = "local operator"


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    APPROVER = "approver"


ALL_ROLES = frozenset(Role)


class SignIn(StrEnum):
    """How the console treats sign-in in this configuration."""

    REQUIRED = "required"  # production with [auth] configured
    OPTIONAL = "optional"  # sandbox with [auth] configured
    ANONYMOUS = "anonymous"  # sandbox without [auth], or production with allow_anonymous
    MISCONFIGURED = "misconfigured"  # production, no [auth], anonymous not allowed: refuse


def _entries(raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, Iterable):
        return ()
    return tuple(str(e).strip().lower() for e in raw if str(e).strip())


def _matches(email: str, entries: tuple[str, ...]) -> bool:
    email = email.strip().lower()
    return any(
        e == "*" or e == email or (e.startswith("@") and email.endswith(e)) for e in entries
    )


@dataclass(frozen=True)
class AccessPolicy:
    viewers: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    configured: bool = False

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> AccessPolicy:
        if not raw:
            return cls()
        return cls(
            viewers=_entries(raw.get("viewers", ())),
            operators=_entries(raw.get("operators", ())),
            approvers=_entries(raw.get("approvers", ())),
            configured=True,
        )

    def roles_for(self, email: str | None) -> frozenset[Role]:
        """The roles of a person; an unknown or missing email holds none when configured."""
        if not self.configured:
            return ALL_ROLES
        if not email:
            return frozenset()
        roles = set()
        if _matches(email, self.operators):
            roles |= {Role.OPERATOR, Role.VIEWER}
        if _matches(email, self.approvers):
            roles |= {Role.APPROVER, Role.VIEWER}
        if _matches(email, self.viewers):
            roles.add(Role.VIEWER)
        return frozenset(roles)


def policy_from_settings(settings: Settings) -> AccessPolicy:
    roles = settings.extra.get("roles")
    return AccessPolicy.from_mapping(roles if isinstance(roles, Mapping) else None)


def sign_in_mode(settings: Settings, *, auth_configured: bool) -> SignIn:
    """Whether the console must ask for sign-in before showing anything."""
    if settings.use_sandbox:
        return SignIn.OPTIONAL if auth_configured else SignIn.ANONYMOUS
    if auth_configured:
        return SignIn.REQUIRED if not settings.allow_anonymous else SignIn.OPTIONAL
    return SignIn.ANONYMOUS if settings.allow_anonymous else SignIn.MISCONFIGURED


@dataclass(frozen=True)
class Identity:
    """The person at the console; ``actor`` is what the ledger and audit log record."""

    email: str | None = None
    name: str | None = None

    @property
    def signed_in(self) -> bool:
        return bool(self.email)

    @property
    def actor(self) -> str:
        return self.email or LOCAL_ACTOR
