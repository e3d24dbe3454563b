"""Your kindred: the member pages under /me.

Every page calls the same use cases as the JSON API, and every form is validated by the API's
own schemas after `forms` turns it into the JSON-shaped payload, so a page can never accept what
the API would refuse. The pages add only plain words, and what a browser needs (redirects,
flashes, a form kept as typed when something is wrong).
"""

from __future__ import annotations

import json
import re
from calendar import month_abbr
from calendar import month_name as full_month_names
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from marshmallow import missing
from werkzeug.datastructures import MultiDict

from service.adapters.orm import utcnow
from service.api.checkins import CheckInAnswersSchema
from service.api.fields import all_optional
from service.api.keep_in_touch import ReplySchema, SettingsChangeSchema
from service.api.limits import sign_ups
from service.api.matches import AnswerSchema, IWentSchema
from service.api.members import (
    ConsentsSchema,
    ExportSchema,
    ProfileFields,
    ProfileUpdateSchema,
    SignUpSchema,
    _json_safe,
)
from service.dashboard import charts
from service.dashboard.forms import (
    FormInvalid,
    field_errors,
    given,
    load,
    number,
    ticked,
    without_empty,
    words,
)
from service.dashboard.web_session import kindred, page_for, sign_in, sign_out, signed_in
from service.domain.credentials import Role
from service.domain.errors import Conflict, DomainError, NotFound, RuleViolation
from service.domain.vocabulary import (
    Consent,
    DayPart,
    MatchRequestStatus,
    SuggestionKind,
    SuggestionStatus,
    Weekday,
    values_of,
)
from service.services import (
    attendance,
    balance,
    calendar_feed,
    connection_checkin,
    follow_ups,
    introductions,
    matching,
    members,
    notifications,
    places,
)
from service.services.places import Area

bp = Blueprint("member", __name__, url_prefix="/me")

# The API's translation of loaded values into what the use cases store (enums to text, repeats
# dropped): shared, so a profile saved here is byte for byte one saved through the API.
json_safe = _json_safe

PROFILE_CHANGES = all_optional(ProfileUpdateSchema)
OTHER_PLACE = "other"
# The radio's two choices: the inbox always has every message; email is the extra.
NOTIFY_CHOICES = {"in_app": ["in_app"], "email": ["in_app", "email"]}
DAY_NAMES = dict(
    zip(
        values_of(Weekday),
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)
CONSENT_BOXES = {f"consent_{purpose.value}": purpose.value for purpose in Consent}
TEXT_BOXES = (
    "display_name", "email", "interests_text", "travel_radius_km", "attendance",
    "comfort_group_size", "comfort_structure", "comfort_pace", "digest_day",
    "quiet_hours_start", "quiet_hours_end", "timezone", "max_notifications_per_week",
)  # fmt: skip
LIST_BOXES = ("interests", "causes", "languages")
PLACE_BOXES = ("place", "area", "lat", "lon")
CHECKBOXES = ("start_slowly", "share_email_on_introduction", *CONSENT_BOXES)
INBOX_SIZE = 100
FILL_THIS_IN = "Please fill this in."
# Notifications link to the API; on the web they open the page that shows the same thing.
PAGE_FOR_API_LINK = (
    ("/api/v1/members/me/suggestions", "member.home"),
    ("/api/v1/members/me/introductions", "member.introductions"),
    ("/api/v1/listings/", "member.calendar"),
    ("/api/v1/members/me/follow-ups", "member.going"),
    ("/api/v1/members/me/connection-check-ins", "member.check_in"),
)
LABELS = {
    "display_name": "Your name",
    "email": "Your email",
    "interests": "What you enjoy",
    "interests_text": "In your own words",
    "causes": "Causes and values",
    "languages": "Languages",
    "place": "Where you are",
    "area": "Name of your area",
    "lat": "Latitude",
    "lon": "Longitude",
    "travel_radius_km": "How far you would travel",
    "availability": "When you are free",
    "attendance": "How you would like to meet",
    "comfort_group_size": "Group size",
    "comfort_structure": "How structured",
    "comfort_pace": "Pace",
    "notify_channels": "Where to get messages",
    "digest_day": "Day for your weekly summary",
    "quiet_hours_start": "Quiet hours start",
    "quiet_hours_end": "Quiet hours end",
    "timezone": "Your time zone",
    "max_notifications_per_week": "Most messages a week",
    "_body": "The form",
}


@bp.errorhandler(FormInvalid)
def invalid_form(problem: FormInvalid):
    """A button's hidden values were tampered with (a real form cannot send these)."""
    message = " ".join(f"{name}: {' '.join(errors)}" for name, errors in problem.errors.items())
    return render_template("error.html", status=422, message=message), 422


@bp.app_template_filter("member_time")
def member_time(moment, zone: str = "UTC") -> str:
    """A time as the member reads it: in their own time zone, in words."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M}"


# ---------------------------------------------------------------- joining and the profile


@bp.route("/join", methods=["GET", "POST"])
@sign_ups()
def sign_up():
    caller = signed_in()
    if caller is not None and caller.role is Role.MEMBER:
        return redirect(url_for(".home"))
    areas = places.listing_areas(kindred().uow())
    if request.method == "GET":
        return _join_page(_form_values(_schema_defaults(), areas), areas)
    try:
        payload = {**_profile_payload(request.form, areas), "consents": _consents(request.form)}
        signed_up = members.sign_up(kindred().uow(), _load(SignUpSchema(), payload))
    except FormInvalid as problem:
        return _join_page(_submitted_values(request.form), areas, problem.errors), 422
    except DomainError as error:  # a taken email (409), half a coordinate (422)
        return _join_page(_submitted_values(request.form), areas, _errors_of(error)), error.status
    sign_in(Role.MEMBER, signed_up.member.id)
    flash(
        f"Welcome to kindred, {signed_up.member.display_name}. You are signed in. "
        "Next time, sign in with a link we email you."
    )
    return redirect(url_for(".home"))


def _join_page(values: dict, areas: list[Area], errors: dict | None = None) -> str:
    return render_template("me/join.html", **_form_context(values, areas, errors))


@bp.route("/profile", methods=["GET", "POST"])
@page_for(Role.MEMBER)
def profile():
    areas = places.listing_areas(kindred().uow())
    if request.method == "GET":
        member = members.get_me(kindred().uow(), g.caller)
        return _profile_page(_form_values(_member_profile(member), areas), areas)
    try:
        changes = _load(PROFILE_CHANGES, _profile_payload(request.form, areas))
        consents = _load(ConsentsSchema(), _consents(request.form))
        members.update_me(kindred().uow(), g.caller, changes)
        members.set_consents(kindred().uow(), g.caller, consents)  # records each change
    except FormInvalid as problem:
        return _profile_page(_submitted_values(request.form), areas, problem.errors), 422
    except DomainError as error:
        values = _submitted_values(request.form)
        return _profile_page(values, areas, _errors_of(error)), error.status
    flash("Your profile is saved.")
    return redirect(url_for(".profile"))


def _profile_page(values: dict, areas: list[Area], errors: dict | None = None) -> str:
    return render_template("me/profile.html", **_form_context(values, areas, errors))


def _form_context(values: dict, areas: list[Area], errors: dict | None) -> dict:
    return {
        "values": values,
        "errors": errors or {},
        "summary": {LABELS.get(name, name): problems for name, problems in (errors or {}).items()},
        "place_options": [("", "I would rather not say for now")]
        + [(area.name, area.name) for area in areas]
        + [(OTHER_PLACE, "Somewhere else")],
        "day_names": DAY_NAMES,
        "week": [
            (DAY_NAMES[day], [(f"{day}_{part}", part.capitalize()) for part in values_of(DayPart)])
            for day in values_of(Weekday)
        ],
    }


def _profile_payload(form: MultiDict, areas: list[Area]) -> dict:
    """The form as the API's JSON: lists from comma-separated text, booleans from checkboxes.
    Empty optional boxes are left out, so sign-up takes the defaults and an edit keeps them."""
    payload = {
        "display_name": _typed(form, "display_name"),
        "email": _typed(form, "email"),
        "interests": words(form.get("interests")),
        "interests_text": _typed(form, "interests_text"),
        "causes": words(form.get("causes")),
        "languages": [code.lower() for code in words(form.get("languages"))] or None,
        "travel_radius_km": number(form, "travel_radius_km"),
        "availability": form.getlist("availability"),
        "attendance": given(form, "attendance"),
        "comfort_group_size": given(form, "comfort_group_size"),
        "comfort_structure": given(form, "comfort_structure"),
        "comfort_pace": given(form, "comfort_pace"),
        "start_slowly": ticked(form, "start_slowly"),
        "notify_channels": NOTIFY_CHOICES.get(form.get("notify_channels")),
        "digest_day": given(form, "digest_day"),
        "quiet_hours_start": given(form, "quiet_hours_start"),
        "quiet_hours_end": given(form, "quiet_hours_end"),
        "timezone": given(form, "timezone"),
        "max_notifications_per_week": number(form, "max_notifications_per_week", int),
        "share_email_on_introduction": ticked(form, "share_email_on_introduction"),
    }
    # The place is always given in full: "rather not say" must clear an earlier one.
    return {**without_empty(payload), **_place(form, areas)}


def _typed(form: MultiDict, name: str) -> str | None:
    """Text that may be emptied on purpose: a box left empty is sent empty (and a required one
    is refused); only a box the form does not have is left out."""
    value = form.get(name)
    return None if value is None else value.strip()


def _place(form: MultiDict, areas: list[Area]) -> dict:
    """An area from the list stands for the middle of its groups; "somewhere else" takes the
    member's own optional coordinates."""
    choice = form.get("place", "")
    if choice == OTHER_PLACE:
        return {"area": given(form, "area"), "lat": number(form, "lat"), "lon": number(form, "lon")}
    if not choice:
        return {"area": None, "lat": None, "lon": None}
    for area in areas:
        if area.name == choice:
            return {"area": area.name, "lat": area.lat, "lon": area.lon}
    raise FormInvalid({"place": ["That place is no longer in the list: please choose again."]})


def _consents(form: MultiDict) -> dict[str, bool]:
    return {purpose: ticked(form, box) for box, purpose in CONSENT_BOXES.items()}


def _load(schema, payload: dict) -> dict:
    try:
        return json_safe(load(schema, payload))
    except FormInvalid as problem:
        raise FormInvalid(_readable(problem.errors, payload)) from None


def _readable(errors: dict[str, list], payload: dict) -> dict[str, list[str]]:
    """Messages next to the box they are about: "interests[2]" is shown at "interests", naming
    the word that is wrong; an emptied required box just asks to be filled in."""
    readable: dict[str, list[str]] = {}
    for key, messages in errors.items():
        name, index = _list_item(key)
        texts = [str(message) for message in messages]
        if index is not None:
            texts = [f"“{payload[name][index]}”: {text}" for text in texts]
        elif payload.get(name) == "" or "Missing data for required field." in texts:
            texts = [FILL_THIS_IN]
        readable.setdefault(name, []).extend(texts)
    return readable


def _list_item(key: str) -> tuple[str, int | None]:
    found = re.fullmatch(r"(\w+)\[(\d+)\]", key)
    return (found.group(1), int(found.group(2))) if found else (key, None)


def _errors_of(error: DomainError) -> dict[str, list[str]]:
    problem = field_errors(error)
    if error.status == 409 and "email" in problem.errors:
        return {"email": ["This email already has an account. Sign in with it instead."]}
    return problem.errors


def _schema_defaults() -> dict:
    """A blank form shows the API's defaults: the same starting point either way."""
    defaults = {}
    for name, field in ProfileFields().fields.items():
        if field.load_default is not missing:
            default = field.load_default
            defaults[name] = default() if callable(default) else default
    return defaults


def _member_profile(member) -> dict:
    profile = {name: getattr(member, name) for name in ProfileUpdateSchema().fields}
    for box, purpose in CONSENT_BOXES.items():
        profile[box] = member.consents[purpose]["granted"]
    return profile


def _form_values(profile: dict, areas: list[Area]) -> dict:
    """A profile (stored or default) as the form's boxes show it."""
    values = {name: _box_text(profile.get(name)) for name in TEXT_BOXES}
    values |= {name: ", ".join(profile.get(name) or []) for name in LIST_BOXES}
    values |= {name: bool(profile.get(name)) for name in CHECKBOXES}
    values["availability"] = list(profile.get("availability") or [])
    channels = [str(channel) for channel in profile.get("notify_channels") or []]
    values["notify_channels"] = "email" if "email" in channels else "in_app"
    return values | _place_values(profile, areas)


def _place_values(profile: dict, areas: list[Area]) -> dict:
    area, lat, lon = profile.get("area"), profile.get("lat"), profile.get("lon")
    if any((a.name, a.lat, a.lon) == (area, lat, lon) for a in areas):
        return {"place": area, "area": "", "lat": "", "lon": ""}
    if area or lat is not None:  # set by hand, or its area's groups have moved since
        return {
            "place": OTHER_PLACE,
            "area": area or "",
            "lat": _box_text(lat),
            "lon": _box_text(lon),
        }
    return {"place": "", "area": "", "lat": "", "lon": ""}


def _box_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _submitted_values(form: MultiDict) -> dict:
    """The form as it was sent, to show it again with its problems."""
    values = {name: form.get(name, "") for name in (*TEXT_BOXES, *LIST_BOXES, *PLACE_BOXES)}
    values |= {name: ticked(form, name) for name in CHECKBOXES}
    values["availability"] = form.getlist("availability")
    values["notify_channels"] = form.get("notify_channels", "in_app")
    return values


# ---------------------------------------------------------------- suggestions and answers


@bp.get("")
@page_for(Role.MEMBER)
def home():
    member = members.get_me(kindred().uow(), g.caller)
    current = matching.current_suggestions(kindred().uow(), g.caller)
    check_in = connection_checkin.my_check_in(
        kindred().uow(), g.caller, kindred().settings.support_url
    )
    return render_template(
        "me/home.html",
        member=member,
        groups=current["groups"],
        peers=current["peers"],
        check_in=check_in,
    )


@bp.post("/suggestions/<int(max=2147483647):suggestion_id>/answer")
@page_for(Role.MEMBER)
def answer(suggestion_id: int):
    form = request.form
    data = _load(
        AnswerSchema(),
        without_empty(
            {"answer": given(form, "answer"), "share_contact": ticked(form, "share_contact")}
        ),
    )
    suggestion = matching.answer_suggestion(
        kindred().uow(), g.caller, suggestion_id, data["answer"], data["share_contact"]
    )
    flash(_thanks(suggestion))
    return redirect(url_for(".home"))


def _thanks(suggestion) -> str:
    is_group = suggestion.kind is SuggestionKind.GROUP
    name = suggestion.listing.title if is_group else suggestion.peer.display_name
    if suggestion.status is SuggestionStatus.NO:
        return f"Thanks. We will not suggest {name} again."
    if suggestion.status is SuggestionStatus.LATER:
        return f"We will keep {name} here for later."
    if is_group:
        return f"You said yes to {name}. It is in your calendar feed now."
    return f"You said yes to meeting {name}. If they say yes too, we will introduce you."


@bp.post("/match-requests")
@page_for(Role.MEMBER)
def find_matches():
    try:
        asked = matching.request_matches(kindred().uow(), g.caller)
    except RuleViolation:
        flash(
            "To find suggestions, kindred needs your permission to use your profile. "
            "You can give it under “What you agree to”."
        )
        return redirect(url_for(".profile", _anchor="consents"))
    return redirect(url_for(".match_request", request_id=asked.id))


@bp.get("/match-requests/<int(max=2147483647):request_id>")
@page_for(Role.MEMBER)
def match_request(request_id: int):
    asked = matching.get_match_request(kindred().uow(), g.caller, request_id)
    return render_template("me/match_request.html", asked=asked, message=_progress(asked))


@bp.get("/match-requests/<int(max=2147483647):request_id>/status")
@page_for(Role.MEMBER)
def match_request_status(request_id: int):
    """For match-poll.js: the same words the page shows, as JSON."""
    try:
        asked = matching.get_match_request(kindred().uow(), g.caller, request_id)
    except NotFound as error:
        return jsonify(message=error.message), 404
    return jsonify(id=asked.id, status=asked.status.value, message=_progress(asked))


def _progress(asked) -> str:
    if asked.status is MatchRequestStatus.QUEUED:
        return "Your request is waiting its turn. This usually takes a few seconds."
    if asked.status is MatchRequestStatus.RUNNING:
        return "Looking for groups and people who fit you…"
    if asked.status is MatchRequestStatus.FAILED:
        return "Something went wrong while looking. Please try again in a little while."
    if not (asked.group_count or asked.peer_count):
        return "Done. Nothing new fits you well yet; we will look again as new groups join."
    groups = _count(asked.group_count, "group", "groups")
    people = _count(asked.peer_count, "person", "people")
    return f"Done. We found {groups} and {people} who share your values."


def _count(number_of: int, one: str, many: str) -> str:
    return f"{number_of} {one if number_of == 1 else many}"


# ---------------------------------------------------------------- introductions and inbox


@bp.get("/introductions", endpoint="introductions")
@page_for(Role.MEMBER)
def introductions_page():
    member = members.get_me(kindred().uow(), g.caller)
    introduced = introductions.my_introductions(kindred().uow(), g.caller)
    return render_template("me/introductions.html", member=member, introduced=introduced)


@bp.get("/notifications", endpoint="notifications")
@page_for(Role.MEMBER)
def notifications_page():
    member = members.get_me(kindred().uow(), g.caller)
    inbox = notifications.inbox(kindred().uow(), g.caller, False, INBOX_SIZE)
    return render_template(
        "me/notifications.html",
        member=member,
        inbox=[(note, _page_for_link(note.link)) for note in inbox],
    )


def _page_for_link(link: str | None) -> str | None:
    for prefix, endpoint in PAGE_FOR_API_LINK:
        if link and link.startswith(prefix):
            return url_for(endpoint)
    return None


@bp.post("/notifications/<int(max=2147483647):notification_id>/read")
@page_for(Role.MEMBER)
def mark_read(notification_id: int):
    notifications.mark_read(kindred().uow(), g.caller, notification_id)
    return redirect(url_for(".notifications", _anchor=f"note-{notification_id}"))


# ---------------------------------------------------------------- the connection check-in


@bp.get("/check-in", endpoint="check_in")
@page_for(Role.MEMBER)
def check_in_page():
    return _check_in_page()


@bp.post("/check-in")
@page_for(Role.MEMBER)
def answer_check_in():
    """The same rules as POST /api/v1/members/me/connection-check-ins."""
    payload = without_empty(
        {item: number(request.form, item, int) for item in connection_checkin.ITEMS}
    )
    try:
        data = load(CheckInAnswersSchema(), payload)
        answered = connection_checkin.answer(kindred().uow(), g.caller, data)
    except FormInvalid as problem:
        return _check_in_page(problem.errors, request.form), 422
    except Conflict as error:  # no consent (withdrawn in another tab)
        return _check_in_page(_errors_of(error)), error.status
    flash(
        f"Thank you. Your answers for {month_name(answered.month)} are "
        f"{'updated' if answered.replaced else 'kept'}. Only you can see them."
    )
    return redirect(url_for(".check_in", _anchor="trend"))


@bp.post("/check-in/start")
@page_for(Role.MEMBER)
def start_check_ins():
    members.set_consents(kindred().uow(), g.caller, {"connection_checkin": True})
    flash("Monthly check-ins are on. Only you see your answers; you can stop at any time.")
    return redirect(url_for(".check_in"))


@bp.post("/check-in/withdraw")
@page_for(Role.MEMBER)
def withdraw_check_ins():
    """Withdraw the consent: every answer is deleted and no more check-ins are offered."""
    members.set_consents(kindred().uow(), g.caller, {"connection_checkin": False})
    flash("Check-ins are off, and every answer you gave has been deleted.")
    return redirect(url_for(".check_in"))


def _check_in_page(errors: dict | None = None, form: MultiDict | None = None) -> str:
    mine = connection_checkin.my_check_in(kindred().uow(), g.caller, kindred().settings.support_url)
    chart = None
    if mine.trend:
        chart = charts.line_chart(
            "Your connection check-in score by month (3 to 9; lower means less often alone)",
            [month_name(m.month, short=True) for m in mine.trend],
            {"Your score": [m.score for m in mine.trend]},
            axis=(connection_checkin.LOWEST, connection_checkin.HIGHEST, 1),
            period="Month",
        )
    if form is not None:
        chosen = {item: form.get(item) for item in connection_checkin.ITEMS}
    elif mine.this_month is not None:
        chosen = {item: str(getattr(mine.this_month, item)) for item in connection_checkin.ITEMS}
    else:
        chosen = {}
    return render_template(
        "me/check_in.html",
        mine=mine,
        chart=chart,
        questions=connection_checkin.QUESTIONS,
        choices=[(str(value), label) for value, label in connection_checkin.CHOICES],
        chosen=chosen,
        month=month_name(mine.month),
        errors=errors or {},
        summary={CHECK_IN_LABELS.get(k, k): v for k, v in (errors or {}).items()},
    )


CHECK_IN_LABELS = {
    "lack_companionship": "Lacking companionship",
    "left_out": "Feeling left out",
    "isolated": "Feeling isolated",
    "connection_checkin": "Your consent",
}


def month_name(month: str, short: bool = False) -> str:
    """ "2026-11" as "November 2026" (or "Nov 2026")."""
    year, number_of = month.split("-")
    name = (month_abbr if short else full_month_names)[int(number_of)]
    return f"{name} {year}"


# ---------------------------------------------------------------- the calendar feed


# ---------------------------------------------------------------- going back


@bp.get("/going", endpoint="going")
@page_for(Role.MEMBER)
def going_page():
    return _going_page()


@bp.post("/going")
@page_for(Role.MEMBER)
def i_went():
    """The same rules as POST /api/v1/members/me/attendance (its schema, its use case)."""
    payload = without_empty(
        {"listing_id": number(request.form, "listing_id", int),
         "session_on": given(request.form, "session_on")}
    )  # fmt: skip
    try:
        data = load(IWentSchema(), payload)
        recorded = attendance.i_went(
            kindred().uow(), g.caller, data["listing_id"], data["session_on"]
        )
    except FormInvalid as problem:
        return _going_page(problem.errors), 422
    except RuleViolation as error:
        return _going_page(_errors_of(error)), error.status
    title = recorded.attendance.listing.title
    flash(
        f"Thank you: {title} on {recorded.attendance.session_on:%A %-d %B} is noted."
        if recorded.created
        else f"You had already told us about {title} that day."
    )
    return redirect(url_for(".going"))


@bp.post("/follow-ups")
@page_for(Role.MEMBER)
def follow_up_settings():
    """The same rules as PATCH /api/v1/members/me/follow-ups."""
    payload = without_empty(
        {"enabled": ticked(request.form, "enabled"),
         "snooze_days": number(request.form, "snooze_days", int)}
    )  # fmt: skip
    try:
        data = load(SettingsChangeSchema(), payload)
    except FormInvalid as problem:
        return _going_page(problem.errors), 422
    settings = follow_ups.change_settings(
        kindred().uow(), g.caller, data.get("enabled"), data.get("snooze_days")
    )
    if not settings.enabled:
        flash("Keep-in-touch follow-ups are off. You can turn them on again here.")
    elif settings.snoozed_until:
        flash(f"Follow-ups are snoozed until {settings.snoozed_until:%A %-d %B}.")
    else:
        flash("Keep-in-touch follow-ups are on.")
    return redirect(url_for(".going", _anchor="keep-in-touch"))


@bp.post("/follow-ups/<int(max=2147483647):follow_up_id>/reply")
@page_for(Role.MEMBER)
def reply_to_follow_up(follow_up_id: int):
    """The same rules as POST /api/v1/members/me/follow-ups/{id}/reply."""
    try:
        data = load(ReplySchema(), {"reply": given(request.form, "reply")})
    except FormInvalid as problem:
        return _going_page(problem.errors), 422
    sent = follow_ups.reply(kindred().uow(), g.caller, follow_up_id, data["reply"])
    flash(
        f"Good to hear about {sent.name}."
        if sent.reply == "kept_in_touch"
        else f"Understood: no more follow-ups about {sent.name}."
    )
    return redirect(url_for(".going", _anchor="keep-in-touch"))


def _going_page(errors: dict | None = None) -> str:
    return render_template(
        "me/going.html",
        listings=calendar_feed.my_calendar_listings(kindred().uow(), g.caller),
        attended=attendance.my_attendance(kindred().uow(), g.caller),
        balance=balance.my_balance(kindred().uow(), g.caller),
        keep_in_touch=follow_ups.my_follow_ups(kindred().uow(), g.caller),
        today=utcnow().date().isoformat(),
        errors=errors or {},
        summary={GOING_LABELS.get(k, k): v for k, v in (errors or {}).items()},
    )


GOING_LABELS = {
    "session_on": "The day you went",
    "listing_id": "The group",
    "snooze_days": "Snooze for",
    "enabled": "Follow-ups",
    "reply": "Your answer",
}


@bp.get("/calendar")
@page_for(Role.MEMBER)
def calendar():
    token = calendar_feed.my_feed_token(kindred().uow(), g.caller, current_app.secret_key)
    feed_url = kindred().settings.public_url + url_for(".calendar_feed", token=token)
    return render_template(
        "me/calendar.html",
        feed_url=feed_url,
        webcal_url="webcal://" + feed_url.split("://", 1)[1],
        listings=calendar_feed.my_calendar_listings(kindred().uow(), g.caller),
    )


@bp.post("/calendar/new-link")
@page_for(Role.MEMBER)
def new_calendar_link():
    calendar_feed.new_feed_link(kindred().uow(), g.caller, current_app.secret_key)
    flash("Here is your new link. The old one has stopped working: add this one to your calendar.")
    return redirect(url_for(".calendar"))


@bp.get("/calendar/<token>.ics", endpoint="calendar_feed")
def calendar_feed_file(token: str):
    """No session: calendar apps cannot sign in. The signed token is the credential."""
    body = calendar_feed.calendar_for_token(kindred().uow(), current_app.secret_key, token)
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Cache-Control": "private, max-age=900", "X-Robots-Tag": "noindex"},
    )


# ---------------------------------------------------------------- privacy: export and erasure


@bp.get("/privacy")
@page_for(Role.MEMBER)
def privacy():
    return render_template("me/privacy.html", errors={})


@bp.get("/export.json")
@page_for(Role.MEMBER)
def export():
    everything = members.export_me(kindred().uow(), g.caller)
    body = json.dumps(ExportSchema().dump(everything), indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="kindred-export.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/erase")
@page_for(Role.MEMBER)
def erase():
    if not ticked(request.form, "confirm"):
        errors = {"confirm": ["Please tick this box to confirm. Nothing has been erased."]}
        return render_template("me/privacy.html", errors=errors), 422
    members.erase_me(kindred().uow(), g.caller, kindred().redis, kindred().settings.regions)
    sign_out()
    return redirect(url_for(".goodbye"))


@bp.get("/goodbye")
def goodbye():
    return render_template("me/goodbye.html")
