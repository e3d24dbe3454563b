"""Give and receive: a member's own balance of giving (volunteering, helping) and receiving
(classes, support groups, clubs), and one suggestion of the other kind when it is lopsided.

Reciprocity (DESIGN.md): people who only receive can feel a burden, people who only give can
burn out. The balance counts what the member did lately, from the listings' `direction`: each yes
to a group and each session they went to. It is the member's own figure; nobody else sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import sqlalchemy as sa

from service.adapters.orm import Listing, SessionAttendance, Suggestion, utcnow
from service.domain.credentials import Principal, Role
from service.domain.vocabulary import SuggestionKind, SuggestionStatus
from service.services.auth import require_role
from service.services.unit_of_work import UnitOfWork

# What counts as lately.
WINDOW = timedelta(days=90)
# Lopsided: at least this many on one side, and at least this many times the other side.
AT_LEAST = 3
TIMES = 3
# The suggestion of the other kind must still fit: quality over quantity.
GOOD_ENOUGH = 0.3
REASONS = {
    "receiving": "you have mostly been receiving lately: a chance to give something back",
    "giving": "you give a lot: this one is for you",
}


@dataclass(frozen=True)
class Balance:
    giving: int
    receiving: int
    days: int = WINDOW.days

    @property
    def leaning(self) -> str | None:
        """ "giving" or "receiving" when one side outweighs the other, else None."""
        for side, this, other in (
            ("giving", self.giving, self.receiving),
            ("receiving", self.receiving, self.giving),
        ):
            if this >= AT_LEAST and this >= TIMES * other:
                return side
        return None


def my_balance(uow: UnitOfWork, caller: Principal) -> Balance:
    require_role(caller, Role.MEMBER)
    with uow:
        return balance_of(uow.session, caller.subject_id)


def balance_of(session, member_id: int) -> Balance:
    """Yeses to groups and sessions attended since WINDOW ago, by the listing's direction."""
    since = utcnow() - WINDOW
    yeses = (
        sa.select(Listing.direction)
        .join(Suggestion, Suggestion.listing_id == Listing.id)
        .where(
            Suggestion.member_id == member_id,
            Suggestion.kind == SuggestionKind.GROUP,
            Suggestion.status == SuggestionStatus.YES,
            Suggestion.answered_at >= since,
        )
    )
    visits = (
        sa.select(Listing.direction)
        .join(SessionAttendance, SessionAttendance.listing_id == Listing.id)
        .where(
            SessionAttendance.member_id == member_id,
            SessionAttendance.session_on >= since.date(),
        )
    )
    both = sa.union_all(yeses, visits).subquery()
    counts = dict(
        session.execute(
            sa.select(both.c.direction, sa.func.count()).group_by(both.c.direction)
        ).all()
    )
    return Balance(giving=_count(counts, "give"), receiving=_count(counts, "receive"))


def _count(counts: dict, direction: str) -> int:
    return sum(n for key, n in counts.items() if getattr(key, "value", key) == direction)


def rebalance(groups: list, pool: list, balance: Balance, directions: dict[int, str]) -> list:
    """`groups` (the best few of `pool`, best first) with one of the other kind when the
    balance leans: the best-placed one already among them, else the best of the rest of the
    pool that still fits, in place of the last. Its reasons say why it is there."""
    leaning = balance.leaning
    if leaning is None or not groups:
        return groups
    wanted = "give" if leaning == "receiving" else "receive"
    chosen = [g for g in groups if directions.get(g.listing_id) == wanted]
    if chosen:
        return [_with_reason(g, leaning) if g is chosen[0] else g for g in groups]
    shown = {g.listing_id for g in groups}
    for candidate in pool:
        fits = candidate.score >= GOOD_ENOUGH and candidate.listing_id not in shown
        if fits and directions.get(candidate.listing_id) == wanted:
            return [*groups[:-1], _with_reason(candidate, leaning)]
    return groups


def _with_reason(suggestion, leaning: str):
    return replace(suggestion, reasons=[REASONS[leaning], *suggestion.reasons])
