"""Signing in and out of the web pages, one door per role.

- Coordinators: email and password (argon2, checked by services.coordinators).
- Members: a link emailed to them (services.sign_in_links); a member who has just signed up
  through the form is signed in at once.
- Partners: one of their organization's API keys, the credential a coordinator hands them.

Every sign-in POST is rate limited per address (KINDRED_LOGIN_RATE_LIMIT).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from service.api.fields import EmailAddress
from service.api.limits import limiter, login_limit
from service.dashboard.web_session import (
    HOME_PAGE,
    kindred,
    safe_next,
    sign_in,
    sign_out,
    signed_in,
)
from service.domain.credentials import Role
from service.domain.errors import NotAuthenticated
from service.services import auth, coordinators, sign_in_links

bp = Blueprint("sign_in", __name__)


def _home(role: Role) -> str:
    return safe_next(request.values.get("next"), url_for(HOME_PAGE[role]))


@bp.get("/")
def index():
    caller = signed_in()
    if caller is not None:
        return redirect(url_for(HOME_PAGE[caller.role]))
    return render_template("sign_in/index.html")


@bp.route("/dashboard/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def coordinator():
    error = None
    if request.method == "POST":
        try:
            coordinator_id = coordinators.verify_login(
                kindred().uow(),
                (request.form.get("email") or "").strip().lower(),
                request.form.get("password") or "",
            )
            sign_in(Role.COORDINATOR, coordinator_id)
            return redirect(_home(Role.COORDINATOR))
        except NotAuthenticated as failure:
            error = failure.message
    status = 401 if error else 200
    return render_template("sign_in/coordinator.html", error=error), status


@bp.route("/partner/sign-in", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def partner():
    error = None
    if request.method == "POST":
        key = (request.form.get("api_key") or "").strip()
        try:
            caller = auth.authenticate(kindred().uow(), key)
            if caller.role is not Role.PARTNER:
                raise NotAuthenticated("this is not a partner key (they start with kp_)")
            sign_in(Role.PARTNER, caller.subject_id, _key_id(key))
            return redirect(_home(Role.PARTNER))
        except NotAuthenticated as failure:
            error = failure.message
    status = 401 if error else 200
    return render_template("sign_in/partner.html", error=error), status


def _key_id(plaintext: str) -> int:
    from service.domain.credentials import hash_secret

    with kindred().uow(publish=False) as uow:
        return uow.organizations.key_by_hash(hash_secret(plaintext)).id


@bp.route("/me/sign-in", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def member():
    if request.method == "POST":
        try:
            email = EmailAddress().deserialize(request.form.get("email") or "")
        except Exception:
            return render_template(
                "sign_in/member.html", error="Please enter a valid email address."
            ), 422
        sign_in_links.request_link(kindred().uow(), email, kindred().redis)
        return render_template("sign_in/link_sent.html")
    return render_template("sign_in/member.html", error=None)


@bp.get("/me/sign-in/<token>")
@limiter.limit(login_limit)
def member_link(token: str):
    """Opening the link shows a button; the POST signs in. Mail scanners that prefetch links
    would otherwise use up a single-use link before its owner clicks it."""
    return render_template("sign_in/confirm_link.html", token=token)


@bp.post("/me/sign-in/<token>")
@limiter.limit(login_limit)
def member_link_confirmed(token: str):
    try:
        member_id = sign_in_links.redeem(kindred(), token)
    except NotAuthenticated as failure:
        return render_template("sign_in/member.html", error=failure.message), 401
    sign_in(Role.MEMBER, member_id)
    return redirect(url_for(HOME_PAGE[Role.MEMBER]))


@bp.post("/sign-out")
def sign_out_now():
    sign_out()
    flash("You are signed out.")
    return redirect(url_for("sign_in.index"))
