"""Roles and sign-in rules an operator or admin would notice."""

from __future__ import annotations

from gameball_batch.access import (
    ALL_ROLES,
    LOCAL_ACTOR,
    AccessPolicy,
    Identity,
    Role,
    SignIn,
    sign_in_mode,
)
from gameball_batch.settings import Secret, Settings

POLICY = AccessPolicy.from_mapping(
    {
        "viewers": ["@audit.example"],
        "operators": ["ops@shop.example", "@loyalty.example"],
        "approvers": ["Boss@Shop.example"],
    }
)


def test_unconfigured_roles_give_everyone_every_role() -> None:
    assert AccessPolicy().roles_for("anyone@x.example") == ALL_ROLES


def test_operator_by_email_and_by_domain_can_view_and_create_but_not_approve() -> None:
    for email in ("ops@shop.example", "nour@loyalty.example"):
        assert POLICY.roles_for(email) == {Role.OPERATOR, Role.VIEWER}


def test_approver_email_matches_case_insensitively() -> None:
    assert POLICY.roles_for("boss@shop.example") == {Role.APPROVER, Role.VIEWER}


def test_domain_entry_does_not_match_a_lookalike_domain() -> None:
    assert POLICY.roles_for("eve@evil-loyalty.example") == frozenset()


def test_viewer_domain_only_views() -> None:
    assert POLICY.roles_for("carol@audit.example") == {Role.VIEWER}


def test_signed_out_person_holds_no_role_when_roles_are_configured() -> None:
    assert POLICY.roles_for(None) == frozenset()


def test_production_without_auth_refuses_unless_anonymous_is_allowed() -> None:
    prod = Settings(api_key=Secret("k"), secret_key=Secret("s"))
    assert sign_in_mode(prod, auth_configured=False) is SignIn.MISCONFIGURED
    assert sign_in_mode(prod, auth_configured=True) is SignIn.REQUIRED
    allowed = prod.with_overrides(allow_anonymous=True)
    assert sign_in_mode(allowed, auth_configured=False) is SignIn.ANONYMOUS


def test_sandbox_sign_in_is_optional() -> None:
    assert sign_in_mode(Settings(), auth_configured=True) is SignIn.OPTIONAL
    assert sign_in_mode(Settings(), auth_configured=False) is SignIn.ANONYMOUS


def test_actor_is_the_email_or_the_local_operator() -> None:
    assert Identity(email="ops@shop.example").actor == "ops@shop.example"
    assert Identity().actor == LOCAL_ACTOR
