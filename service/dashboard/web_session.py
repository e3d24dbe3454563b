"""Who is signed in to the web pages: a role and an id in Flask's signed session cookie.

The cookie holds no personal data. Each request checks that its subject still exists (an erased
member, a deleted coordinator) and, for a partner, that the API key it signed in with is not
revoked, so revoking a key also ends the browser sessions opened with it.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, session, url_for

from service.adapters.orm import ApiKey, Coordinator, Member
from service.api.auth import kindred
from service.domain.credentials import Principal, Role

SIGN_IN_PAGE = {
    Role.COORDINATOR: "sign_in.coordinator",
    Role.MEMBER: "sign_in.member",
    Role.PARTNER: "sign_in.partner",
}
HOME_PAGE = {
    Role.COORDINATOR: "coordinator.overview",
    Role.MEMBER: "member.home",
    Role.PARTNER: "partner.home",
}


def sign_in(role: Role, subject_id: int, api_key_id: int | None = None) -> None:
    """Start a fresh session: whatever the cookie held before (a fixation attempt) is dropped.

    The session also names the moment its member or coordinator joined: SQLite gives an erased
    member's id to the next person who joins, and a cookie copied before the erasure must not
    open the newcomer's pages."""
    session.clear()
    session.permanent = True
    session["role"] = role.value
    session["subject_id"] = subject_id
    if api_key_id is not None:
        session["api_key_id"] = api_key_id
    else:
        session["joined"] = _joined(role, subject_id)


def _joined(role: Role, subject_id: int) -> int | None:
    model = Member if role is Role.MEMBER else Coordinator
    with kindred().uow(publish=False) as uow:
        subject = uow.session.get(model, subject_id)
        return _stamp(subject) if subject is not None else None


def _stamp(subject) -> int:
    return int(subject.created_at.timestamp() * 1_000_000)


def sign_out() -> None:
    session.clear()


def signed_in() -> Principal | None:
    if "web_caller" not in g:
        g.web_caller = _from_session()
    return g.web_caller


def _from_session() -> Principal | None:
    try:
        role, subject_id = Role(session["role"]), int(session["subject_id"])
    except (KeyError, ValueError, TypeError):
        return None
    with kindred().uow(publish=False) as uow:
        if role is Role.PARTNER:
            key = uow.session.get(ApiKey, session.get("api_key_id"))
            alive = key is not None and key.revoked_at is None and key.organization_id == subject_id
        else:
            model = Member if role is Role.MEMBER else Coordinator
            subject = uow.session.get(model, subject_id)
            alive = subject is not None and _stamp(subject) == session.get("joined")
    if not alive:
        session.clear()
        return None
    return Principal(role, subject_id)


def page_for(role: Role):
    """Signed-out visitors go to the sign-in page (and come back after); another role gets 403."""

    def decorator(view):
        @wraps(view)
        def checked(*args, **kwargs):
            caller = signed_in()
            if caller is None:
                return redirect(url_for(SIGN_IN_PAGE[role], next=request.full_path.rstrip("?")))
            if caller.role is not role:
                abort(
                    403,
                    f"This page is for {role.value}s. You are signed in as a {caller.role.value}.",
                )
            g.caller = caller
            return view(*args, **kwargs)

        return checked

    return decorator


def safe_next(target: str | None, fallback: str) -> str:
    """Only a path on this site: an open redirect would let a phishing link borrow our name."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return fallback
    return target
