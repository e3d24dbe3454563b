"""The partner pages (/partner): what the JSON API lets an organization do, as forms, for the
small clubs and charities that will never write code against an API.

Every form is loaded through the API's own schemas and every change goes through the same use
cases, so a listing posted here meets exactly the API's rules and review.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import BadRequest

from service.adapters.orm import Listing, utcnow
from service.adapters.repositories import ListingFilter
from service.api.auth import ID
from service.api.fields import all_optional
from service.api.listings import MAX_PAGE, CheckInSchema
from service.api.organizations import (
    NewKeyRequestSchema,
    OrganizationUpdateSchema,
    WebhookRequestSchema,
)
from service.dashboard import listing_form
from service.dashboard.forms import (
    FormInvalid,
    field_errors,
    given,
    load,
    number,
    without_empty,
)
from service.dashboard.web_session import kindred, page_for, sign_out
from service.domain.credentials import Role
from service.domain.errors import Conflict, DomainError, InvalidTransition, RuleViolation
from service.domain.vocabulary import ListingStatus
from service.services import attendance, interest, listings, organizations, webhooks

bp = Blueprint("partner", __name__, url_prefix="/partner")

PAGE_SIZE = 50
# The status each button asks for; "close" has its own use case.
STATUS_ACTIONS = {
    "submit": ListingStatus.PENDING_REVIEW,
    "pause": ListingStatus.PAUSED,
    "resume": ListingStatus.ACTIVE,
}
WHAT_STATUS_MEANS = {
    ListingStatus.DRAFT: "is saved as a draft. Members do not see it until you submit it.",
    ListingStatus.PENDING_REVIEW: (
        "is waiting for a kindred coordinator's review. Members see it once it is approved."
    ),
    ListingStatus.ACTIVE: "is live: members it fits can now be suggested it.",
    ListingStatus.PAUSED: "is paused: nobody new is suggested it until you resume it.",
    ListingStatus.CLOSED: "is closed. It stays in your list, with its interest, for your records.",
}


@dataclass(frozen=True)
class ListingRow:
    listing: Listing
    interest: dict


def _uow():
    return kindred().uow()


def _organization():
    return organizations.get_organization(_uow(), g.caller, g.caller.subject_id)


def _see_other(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), 303)


def _never_cached(body: str, status: int = 200):
    """A page showing a secret must not stay in the browser's cache or history."""
    return body, status, {"Cache-Control": "no-store"}


def _announce(listing: Listing, prefix: str = "") -> None:
    flash(f"{prefix}“{listing.title}” {WHAT_STATUS_MEANS[listing.status]}")


# Listings ------------------------------------------------------------------------------------


@bp.get("")
@page_for(Role.PARTNER)
def home():
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    found = listings.search_listings(
        _uow(), g.caller, ListingFilter(), offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    counts = interest.interest_by_listing(_uow(), g.caller, [item.id for item in found.items])
    rows = [ListingRow(item, counts[item.id]) for item in found.items]
    return render_template(
        "partner/home.html",
        organization=_organization(),
        rows=rows,
        page=page,
        more=found.total > page * PAGE_SIZE,
    )


@bp.route("/listings/new", methods=["GET", "POST"])
@page_for(Role.PARTNER)
def new_listing():
    if request.method == "GET":
        return _listing_page(None, listing_form.blank_values())
    try:
        created = listings.create_listing(_uow(), g.caller, listing_form.new_listing(request.form))
    except (FormInvalid, RuleViolation) as problem:
        return _listing_page(None, request.form, _as_form_problem(problem)), 422
    _announce(created)
    return _see_other("partner.home")


@bp.route(f"/listings/<{ID}:listing_id>/edit", methods=["GET", "POST"])
@page_for(Role.PARTNER)
def edit_listing(listing_id: int):
    listing = listings.get_listing(_uow(), g.caller, listing_id)
    if request.method == "GET":
        return _listing_page(listing, listing_form.listing_values(listing))
    try:
        changes = listing_form.listing_changes(request.form, listing)
        updated = listings.update_listing(_uow(), g.caller, listing_id, changes)
    except (FormInvalid, RuleViolation) as problem:
        return _listing_page(listing, request.form, _as_form_problem(problem)), 422
    if updated.status is listing.status:
        flash(f"Your changes to “{updated.title}” are saved.")
    else:
        _announce(updated, prefix="Your changes are saved. ")
    return _see_other("partner.home")


def _as_form_problem(problem: FormInvalid | DomainError) -> FormInvalid:
    """A rule the use case enforces is shown like a schema's message: next to its field."""
    return problem if isinstance(problem, FormInvalid) else field_errors(problem)


def _listing_page(listing: Listing | None, values, problem: FormInvalid | None = None):
    errors = problem.errors if problem else {}
    return render_template(
        "partner/listing_form.html",
        listing=listing,
        organization=_organization(),
        values=values,
        errors=errors,
        problems=listing_form.problems(errors),
        message=problem.message if problem else None,
        form=listing_form,
        slot_rows=listing_form.row_count(
            values, "slot", listing_form.SLOT_FIELDS, listing_form.MAX_SLOT_ROWS
        ),
        session_rows=listing_form.row_count(
            values, "session", listing_form.SESSION_FIELDS, listing_form.MAX_SESSION_ROWS
        ),
    )


@bp.post(f"/listings/<{ID}:listing_id>/status")
@page_for(Role.PARTNER)
def change_status(listing_id: int):
    action = request.form.get("action")
    if action != "close" and action not in STATUS_ACTIONS:
        raise BadRequest("Unknown action: use submit, pause, resume or close.")
    try:
        if action == "close":
            listings.close_listing(_uow(), g.caller, listing_id)
            changed = listings.get_listing(_uow(), g.caller, listing_id)
        else:
            changes = {"status": STATUS_ACTIONS[action]}
            changed = listings.update_listing(_uow(), g.caller, listing_id, changes)
    except InvalidTransition as refused:
        # The partner stays on the list, told in the domain's words why nothing changed.
        flash(f"Nothing changed: {refused.message}.")
        return _see_other("partner.home")
    _announce(changed)
    return _see_other("partner.home")


@bp.get(f"/listings/<{ID}:listing_id>")
@page_for(Role.PARTNER)
def listing(listing_id: int):
    return _interest_page(listing_id)


@bp.post(f"/listings/<{ID}:listing_id>/check-ins")
@page_for(Role.PARTNER)
def check_in(listing_id: int):
    """The same rules as POST /api/v1/listings/{id}/check-ins (its schema, its use case)."""
    payload = without_empty(
        {"contact_id": number(request.form, "contact_id", int),
         "session_on": given(request.form, "session_on")}
    )  # fmt: skip
    try:
        data = load(CheckInSchema(), payload)
        recorded = attendance.check_in(
            _uow(), g.caller, listing_id, data["contact_id"], data["session_on"]
        )
    except FormInvalid as problem:
        return _interest_page(listing_id, problem.errors), 422
    except RuleViolation as error:
        return _interest_page(listing_id, field_errors(error).errors), error.status
    day = f"{recorded.attendance.session_on:%A %-d %B}"
    flash(f"Checked in for {day}." if recorded.created else f"Already checked in for {day}.")
    return redirect(url_for(".listing", listing_id=listing_id, _anchor="contacts"))


def _interest_page(listing_id: int, errors: dict | None = None) -> str:
    shown = listings.get_listing(_uow(), g.caller, listing_id)
    answers = interest.listing_interest(_uow(), g.caller, listing_id)
    return render_template(
        "partner/listing.html",
        listing=shown,
        interest=answers["interest"],
        contacts=answers["contacts"],
        form=listing_form,
        today=utcnow().date().isoformat(),
        errors=errors or {},
    )


# API keys ------------------------------------------------------------------------------------


@bp.get("/keys")
@page_for(Role.PARTNER)
def keys():
    return _keys_page()


@bp.post("/keys")
@page_for(Role.PARTNER)
def issue_key():
    try:
        data = load(NewKeyRequestSchema(), without_empty({"label": given(request.form, "label")}))
    except FormInvalid as problem:
        return _keys_page(problem=problem, label=request.form.get("label")), 422
    new_key = organizations.issue_key(_uow(), g.caller, g.caller.subject_id, data.get("label"))
    # Shown in this answer only: the secret is never put in the session or a redirect URL.
    return _never_cached(_keys_page(new_key=new_key))


@bp.post(f"/keys/<{ID}:key_id>/revoke")
@page_for(Role.PARTNER)
def revoke_key(key_id: int):
    organizations.revoke_key(_uow(), g.caller, g.caller.subject_id, key_id)
    if key_id == session.get("api_key_id"):
        sign_out()
        flash(
            "You revoked the key you signed in with, so you are signed out. "
            "Sign in with another of your organization's keys."
        )
        return _see_other("sign_in.partner")
    flash("The key is revoked: it stops working at once.")
    return _see_other("partner.keys")


def _keys_page(new_key=None, problem: FormInvalid | None = None, label: str | None = None):
    return render_template(
        "partner/keys.html",
        organization=_organization(),
        keys=organizations.list_keys(_uow(), g.caller, g.caller.subject_id),
        signed_in_key_id=session.get("api_key_id"),
        new_key=new_key,
        errors=problem.errors if problem else {},
        label=label,
    )


# Webhooks ------------------------------------------------------------------------------------


@bp.get("/webhooks")
@page_for(Role.PARTNER)
def webhook_list():
    return _webhooks_page()


@bp.post("/webhooks")
@page_for(Role.PARTNER)
def register_webhook():
    try:
        data = load(WebhookRequestSchema(), without_empty({"url": given(request.form, "url")}))
        created = webhooks.register(
            _uow(),
            g.caller,
            g.caller.subject_id,
            data["url"],
            kindred().settings.webhook_allow_private,
        )
    except (FormInvalid, RuleViolation) as problem:
        return _webhooks_page(_as_form_problem(problem), request.form.get("url")), 422
    return _never_cached(_webhooks_page(created=created))


@bp.post(f"/webhooks/<{ID}:webhook_id>/remove")
@page_for(Role.PARTNER)
def remove_webhook(webhook_id: int):
    webhooks.remove(_uow(), g.caller, g.caller.subject_id, webhook_id)
    flash("The webhook is removed: nothing more is sent to it.")
    return _see_other("partner.webhook_list")


def _webhooks_page(problem: FormInvalid | None = None, url: str | None = None, created=None):
    return render_template(
        "partner/webhooks.html",
        endpoints=webhooks.endpoints(_uow(), g.caller, g.caller.subject_id),
        errors=problem.errors if problem else {},
        message=problem.message if problem else None,
        url=url,
        created=created,
    )


# The organization ----------------------------------------------------------------------------


@bp.route("/organization", methods=["GET", "POST"])
@page_for(Role.PARTNER)
def organization():
    if request.method == "GET":
        return _organization_page(_organization_values(_organization()))
    try:
        changes = _organization_changes()
        organizations.update_organization(_uow(), g.caller, g.caller.subject_id, changes)
    except (FormInvalid, RuleViolation, Conflict) as problem:
        status = 409 if isinstance(problem, Conflict) else 422
        return _organization_page(request.form, _as_form_problem(problem)), status
    flash("Your organization's details are saved.")
    return _see_other("partner.organization")


def _organization_changes() -> dict:
    # The form shows every field: an empty website removes it; an empty name is a mistake.
    payload = {
        "name": given(request.form, "name"),
        "contact_email": given(request.form, "contact_email"),
        "website": given(request.form, "website"),
    }
    emptied = {
        name: [listing_form.REQUIRED_MESSAGE]
        for name, field in OrganizationUpdateSchema().fields.items()
        if field.required and payload.get(name) is None
    }
    if emptied:
        raise FormInvalid(emptied)
    return load(all_optional(OrganizationUpdateSchema), payload)


def _organization_values(current) -> dict:
    return {
        "name": current.name,
        "contact_email": current.contact_email,
        "website": current.website or "",
    }


def _organization_page(values, problem: FormInvalid | None = None):
    return render_template(
        "partner/organization.html",
        organization=_organization(),
        values=values,
        errors=problem.errors if problem else {},
        message=problem.message if problem else None,
    )
