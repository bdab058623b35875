"""Who is at the console and which pages they get: roles → navigation, the sign-in panel.

``app.py`` asks :func:`navigation_pages` for the pages of the current person's roles, so a
page a role may not use is not in its navigation at all (and its URL falls back to the
first page the role may use). Viewers get Jobs and History, operators also New batch,
approvers also Approvals; Settings is for everyone with a role. The signed-in identity
comes from :func:`gameball_batch.ui.frame.identity` (the one place that reads ``st.user``)
and its ``actor`` is what the ledger and audit log record.

This module must not create jobs or send anything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from gameball_batch import access
from gameball_batch.access import Identity, Role
from gameball_batch.settings import Settings
from gameball_batch.ui import frame, services
from gameball_batch.ui import state as keys
from gameball_batch.ui.text import literal

FRAME_LOGIN_SIDEBAR = "frame.login_sidebar"  # button: optional sign-in (sandbox)
FRAME_LOGOUT = "frame.logout"  # button


@dataclass(frozen=True)
class PageSpec:
    name: str  # the file in pages/ (without .py); its render() is the page's body
    title: str
    icon: str
    url_path: str
    role: Role  # the role needed to see the page


PAGES = (
    PageSpec("new_batch", "New batch", ":material/upload_file:", "new", Role.OPERATOR),
    PageSpec("jobs", "Jobs", ":material/monitoring:", "jobs", Role.VIEWER),
    PageSpec("approvals", "Approvals", ":material/approval:", "approvals", Role.APPROVER),
    PageSpec("history", "History", ":material/history:", "history", Role.VIEWER),
    PageSpec("settings", "Settings", ":material/settings:", "settings", Role.VIEWER),
)


def roles(settings: Settings, who: Identity | None = None) -> frozenset[Role]:
    """The roles of the person at the console under the configured policy."""
    who = who or frame.identity()
    return access.policy_from_settings(settings).roles_for(who.email)


def current_roles() -> frozenset[Role]:
    """The roles of the person at the console now: the one check every screen asks.

    Screens hide or disable what a role may not do (job actions, runner limits, sandbox
    controls) by asking this, so the policy is read in one place.
    """
    return roles(services.get_settings())


def holds(role: Role) -> bool:
    """Whether the person at the console holds ``role``."""
    return role in current_roles()


def allowed(specs: Collection[PageSpec], held: frozenset[Role]) -> list[PageSpec]:
    return [p for p in specs if p.role in held]


def navigation_pages(
    settings: Settings, renders: Mapping[str, Callable[[], None]]
) -> dict[str, Any]:
    """``st.Page`` objects (by page name) for the pages this person may use, in order; the
    first is the default. ``renders`` maps each page name to its ``render`` function."""
    specs = allowed(PAGES, roles(settings))
    return {
        p.name: st.Page(renders[p.name], title=p.title, icon=p.icon, url_path=p.url_path,
                        default=i == 0)
        for i, p in enumerate(specs)
    }


def no_role_stop(settings: Settings) -> None:
    """Nothing to show: explain who to ask, offer sign-in when that could help, stop."""
    who = frame.identity()
    if who.signed_in:
        st.error(f"You are signed in as **{literal(who.email)}**, but no role is given to this "
                 "address "
                 "in the console's [roles] settings. Ask an administrator for access.")
        if st.button("Sign out", key=FRAME_LOGOUT):
            st.logout()
    else:
        st.header("Sign in to continue")
        st.write("This console gives access by role, so you need to sign in first.")
        if frame.auth_configured(settings) and st.button(
            "Sign in", key=keys.FRAME_LOGIN, type="primary"
        ):
            st.login()
    frame.stop_without_pages()


SIGN_IN_TEXT = {
    access.SignIn.REQUIRED: "Sign-in required (production).",
    access.SignIn.OPTIONAL: "Sign-in optional.",
    access.SignIn.ANONYMOUS: "Sign-in off: actions are recorded as the local operator.",
    access.SignIn.MISCONFIGURED: "Sign-in is required but not configured.",
}


def sign_in_panel(settings: Settings) -> None:
    """Sidebar: who you are, your roles, and whether this console requires sign-in."""
    mode = access.sign_in_mode(settings, auth_configured=frame.auth_configured(settings))
    who = frame.identity()
    held = ", ".join(sorted(r.value for r in roles(settings, who))) or "none"
    with st.sidebar:
        st.caption(f"{SIGN_IN_TEXT[mode]} You are **{literal(who.actor)}** · roles: {held}")
        if who.signed_in and mode is not access.SignIn.ANONYMOUS:
            if st.button("Sign out", key=FRAME_LOGOUT):
                st.logout()
        elif mode is access.SignIn.OPTIONAL and st.button("Sign in", key=FRAME_LOGIN_SIDEBAR):
            st.login()
