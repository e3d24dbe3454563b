"""Members sign in to their pages with a link sent to their email: no password to forget.

Asking for a link records an outbox event (ids only); the notifications worker signs a link for
that event and emails it. The link is a signed, timestamped token (itsdangerous, keyed by
SECRET_KEY) naming the event and the member: it works once (a Redis key marks it used) and for
LINK_MAX_AGE. Nothing secret is stored or queued.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from service.adapters.email import sender_for
from service.adapters.redis_traces import SIGN_IN_COOLDOWN
from service.domain.errors import NotAuthenticated
from service.domain.events import EventKind, subject
from service.services import members, outbox
from service.services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

LINK_MAX_AGE = timedelta(minutes=30)
_SALT = "kindred-member-sign-in"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


# One link a minute per member, whoever asks: the form cannot be used to flood an inbox.
LINK_COOLDOWN_SECONDS = 60


def request_link(uow: UnitOfWork, email: str, redis=None) -> None:
    """Queue a sign-in link for this email's member. An unknown email does nothing, and the
    caller says the same thing either way, so the form does not reveal who has an account."""
    with uow:
        member = uow.members.by_email(email)
        if member is None:
            return
        cooldown = SIGN_IN_COOLDOWN.format(member_id=member.id)
        if redis is not None and not redis.set(cooldown, 1, nx=True, ex=LINK_COOLDOWN_SECONDS):
            return
        outbox.record(uow, EventKind.SIGN_IN_LINK_REQUESTED, subject("member", member.id))
        uow.commit()


def link_for(secret_key: str, public_url: str, event_id: int, member_id: int) -> str:
    token = _serializer(secret_key).dumps({"event": event_id, "member": member_id})
    return f"{public_url}/me/sign-in/{token}"


def send_link(kindred, event_id: int, member_id: int) -> str:
    """The notifications worker's handler: email the link, then mark the event handled. A
    retry after a crash between the two sends a second, equally valid link."""
    from service.adapters.email import compose

    with kindred.uow() as uow:
        member = uow.members.get(member_id)
        if member is None:  # erased since asking
            outbox.mark_handled(uow, event_id)
            uow.commit()
            return "no such member"
        address = member.email
    settings = kindred.settings
    link = link_for(settings.secret_key, settings.public_url, event_id, member_id)
    minutes = int(LINK_MAX_AGE.total_seconds() // 60)
    text = (
        f"Here is your link to sign in to kindred. It works once, for {minutes} minutes:\n\n"
        f"{link}\n\n"
        "If you did not ask for it, you can ignore this email: nobody can sign in without it."
    )
    message = compose(
        settings.mail_from, address, f"sign-in-{event_id}", "Your kindred sign-in link", text
    )
    sender_for(settings).send(message)
    with kindred.uow() as uow:
        outbox.mark_handled(uow, event_id)
        uow.commit()
    return "sent"


def redeem(kindred, token: str) -> int:
    """The member id a link signs in, once. Expired, forged or used links are refused."""
    try:
        claims = _serializer(kindred.settings.secret_key).loads(
            token, max_age=int(LINK_MAX_AGE.total_seconds())
        )
        event_id, member_id = int(claims["event"]), int(claims["member"])
    except SignatureExpired as error:
        raise NotAuthenticated("this sign-in link has expired: ask for a new one") from error
    except (BadSignature, KeyError, TypeError, ValueError) as error:
        raise NotAuthenticated("this sign-in link is not valid") from error
    first_use = kindred.redis.set(
        f"kindred:sign-in-link-used:{event_id}", 1, nx=True, ex=int(LINK_MAX_AGE.total_seconds())
    )
    if not first_use:
        raise NotAuthenticated("this sign-in link was used already: ask for a new one")
    with kindred.uow(publish=False) as uow:
        if uow.members.get(member_id) is None:
            raise NotAuthenticated("this account no longer exists")
        members.mark_active(uow, member_id)
        uow.commit()
    return member_id
