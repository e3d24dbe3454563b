"""The coordinator dashboard: is kindred connecting people, and what is stuck?

Each page reads one use case from services.dashboard (SQL aggregates) or acts through the same
use cases as the JSON API (review, organizations, keys), so the rules are the API's rules.
"""

from __future__ import annotations

import calendar

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from service.api.listings import ReviewSchema
from service.api.organizations import NewKeyRequestSchema, OrganizationCreateSchema
from service.dashboard import charts, forms
from service.dashboard.web_session import kindred, page_for
from service.domain.credentials import Role
from service.domain.errors import DomainError
from service.services import dashboard, listings, organizations, outcomes
from workers import dead_letters, health

bp = Blueprint("coordinator", __name__, url_prefix="/dashboard")
coordinator_page = page_for(Role.COORDINATOR)

MAX_QUIET_WEEKS = 104


@bp.get("")
@coordinator_page
def overview():
    summary = dashboard.overview(kindred().uow(), g.caller)
    weekly = summary.weekly
    activity = charts.line_chart(
        "Suggestions and answers per week",
        summary.week_labels,
        {"suggestions made": weekly["suggestions made"], "said yes": weekly["said yes"]},
    )
    connections = charts.line_chart(
        "People joining and being introduced per week",
        summary.week_labels,
        {"new members": weekly["new members"], "introductions": weekly["introductions"]},
    )
    return render_template(
        "dashboard/overview.html",
        figures=summary.figures,
        charts=[activity, connections],
        queues=_queues_or_none(),
    )


def _queues_or_none():
    """Queue depths, or None when Redis does not answer: the page still shows the rest."""
    try:
        return health.queue_depths(kindred().redis)
    except Exception:  # Redis down: say so on the page rather than fail it
        return None


@bp.get("/review")
@coordinator_page
def review_queue():
    pending = dashboard.pending_listings(kindred().uow(), g.caller)
    return render_template("dashboard/review.html", pending=pending, errors={})


@bp.post("/review/<int(max=2147483647):listing_id>")
@coordinator_page
def review(listing_id: int):
    form = request.form
    payload = forms.without_empty(
        {"decision": forms.given(form, "decision"), "reason": forms.given(form, "reason")}
    )
    try:
        decision = forms.load(ReviewSchema(), payload)
        listing = listings.review_listing(
            kindred().uow(),
            g.caller,
            listing_id,
            approve=decision["decision"] == "approve",
            reason=decision.get("reason"),
        )
    except forms.FormInvalid as invalid:
        pending = dashboard.pending_listings(kindred().uow(), g.caller)
        return render_template(
            "dashboard/review.html", pending=pending, errors={listing_id: invalid.errors}
        ), 422
    verdict = "approved and live" if decision["decision"] == "approve" else "sent back"
    flash(f"“{listing.title}” {verdict}. The partner has been told.")
    return redirect(url_for(".review_queue"))


@bp.get("/coverage")
@coordinator_page
def coverage():
    gaps = dashboard.coverage(kindred().uow(), g.caller)
    return render_template("dashboard/coverage.html", gaps=gaps, grid=charts.grid_map(gaps.cells))


@bp.get("/quiet")
@coordinator_page
def quiet_members():
    weeks = request.args.get("weeks", type=int) or kindred().settings.quiet_after_weeks
    weeks = min(max(weeks, 1), MAX_QUIET_WEEKS)
    members, total = dashboard.quiet_members(kindred().uow(), g.caller, weeks)
    return render_template("dashboard/quiet.html", members=members, total=total, weeks=weeks)


WITHHELD = f"fewer than {outcomes.MIN_GROUP_SIZE}: withheld"


@bp.get("/outcomes")
@coordinator_page
def outcome_figures():
    months = request.args.get("months", type=int) or outcomes.DEFAULT_MONTHS
    months = min(max(months, 1), outcomes.MAX_MONTHS)
    report = outcomes.outcomes(kindred().uow(), g.caller, months)
    return render_template(
        "dashboard/outcomes.html",
        report=report,
        months=months,
        month_names={month: _month_name(month) for month in report.months},
        charts=_outcome_charts(report),
        withheld=WITHHELD,
    )


def _month_name(month: str) -> str:
    year, number = month.split("-")
    return f"{calendar.month_abbr[int(number)]} {year}"


def _percent(values: list[float | None]) -> list[float | None]:
    return [None if value is None else round(value * 100, 1) for value in values]


def _outcome_charts(report: outcomes.Outcomes) -> dict[str, charts.LineChart]:
    labels = [_month_name(month) for month in report.months]
    monthly = {"period": "Month", "missing": WITHHELD}
    percent = {"unit": "%", "axis": (0, 100, 25), **monthly}
    slow, others = outcomes.START_SLOWLY, outcomes.OTHERS
    return {
        "second_visits": charts.line_chart(
            "Newcomers who went back within six weeks",
            labels,
            {"came back": _percent(report.series("second_visits", "rate"))},
            **percent,
        ),
        "introductions": charts.line_chart(
            "Introductions followed by a second contact",
            labels,
            {"second contact": _percent(report.series("introductions", "rate"))},
            **percent,
        ),
        "attendance": charts.line_chart(
            "Sessions attended at the busiest listings",
            labels,
            {top["title"]: report.listing_series(top["listing_id"]) for top in report.top_listings},
            **monthly,
        ),
        "checkin_score": charts.line_chart(
            "Connection check-in: mean score (3 to 9, lower is less lonely)",
            labels,
            {
                "start slowly": report.series("checkins", "mean_score", slow),
                "others": report.series("checkins", "mean_score", others),
            },
            axis=(3, 9, 1),
            **monthly,
        ),
        "checkin_lonely": charts.line_chart(
            "Connection check-in: share scoring 6 or more",
            labels,
            {
                "start slowly": _percent(report.series("checkins", "share_lonely", slow)),
                "others": _percent(report.series("checkins", "share_lonely", others)),
            },
            **percent,
        ),
    }


@bp.get("/organizations")
@coordinator_page
def organization_list():
    report = dashboard.organizations_report(kindred().uow(), g.caller)
    return render_template("dashboard/organizations.html", report=report, errors={}, values={})


@bp.post("/organizations")
@coordinator_page
def create_organization():
    values = {
        "name": forms.given(request.form, "name"),
        "contact_email": forms.given(request.form, "contact_email"),
        "website": forms.given(request.form, "website"),
        "verified": forms.ticked(request.form, "verified"),
    }
    try:
        data = forms.load(OrganizationCreateSchema(), forms.without_empty(values))
        organization, new_key = organizations.create_organization(kindred().uow(), g.caller, data)
    except (forms.FormInvalid, DomainError) as problem:
        invalid = problem if isinstance(problem, forms.FormInvalid) else forms.field_errors(problem)
        report = dashboard.organizations_report(kindred().uow(), g.caller)
        status = getattr(problem, "status", 422)
        return render_template(
            "dashboard/organizations.html", report=report, errors=invalid.errors, values=values
        ), status
    # The key's secret is shown on this response only: never in a redirect, a flash or a log.
    return _organization_page(organization.id, new_secret=new_key.secret, status=201)


@bp.get("/organizations/<int(max=2147483647):organization_id>")
@coordinator_page
def organization(organization_id: int):
    return _organization_page(organization_id)


def _organization_page(organization_id: int, new_secret: str | None = None, status: int = 200):
    uow = kindred().uow
    return render_template(
        "dashboard/organization.html",
        organization=organizations.get_organization(uow(), g.caller, organization_id),
        rows=dashboard.organization_listings(uow(), g.caller, organization_id),
        keys=organizations.list_keys(uow(), g.caller, organization_id),
        new_secret=new_secret,
    ), status


@bp.post("/organizations/<int(max=2147483647):organization_id>/keys")
@coordinator_page
def issue_key(organization_id: int):
    data = forms.load(
        NewKeyRequestSchema(), forms.without_empty({"label": forms.given(request.form, "label")})
    )
    new_key = organizations.issue_key(kindred().uow(), g.caller, organization_id, data.get("label"))
    return _organization_page(organization_id, new_secret=new_key.secret, status=201)


@bp.post("/organizations/<int(max=2147483647):organization_id>/keys/<int(max=2147483647):key_id>")
@coordinator_page
def revoke_key(organization_id: int, key_id: int):
    organizations.revoke_key(kindred().uow(), g.caller, organization_id, key_id)
    flash("The key was revoked: it stopped working at once.")
    return redirect(url_for(".organization", organization_id=organization_id))


@bp.get("/jobs")
@coordinator_page
def jobs():
    redis = kindred().redis
    return render_template(
        "dashboard/jobs.html",
        failed=dead_letters.failed_jobs(redis),
        queues=health.queue_depths(redis),
        processes=health.processes(redis),
    )


@bp.post("/jobs/retry")
@coordinator_page
def retry_jobs():
    redis = kindred().redis
    if request.form.get("all") == "yes":
        wanted = [job.job_id for job in dead_letters.failed_jobs(redis)]
    else:
        wanted = [job_id for job_id in request.form.getlist("job_id") if job_id][:500]
    requeued = dead_letters.retry(redis, wanted, kindred())
    if requeued:
        flash(f"Re-queued {len(requeued)} job(s): each runs again with its retries.")
    else:
        flash("Nothing was re-queued: the job is no longer among the failed ones.")
    return redirect(url_for(".jobs"))
