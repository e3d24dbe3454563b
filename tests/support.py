"""Small helpers several test packages share."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port free right now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def group_suggestion(member_id: int, listing_id: int, cycle: str, **fields):
    """A group suggestion row as a matching job writes one (tests that need one without running
    the matcher)."""
    from service.adapters.orm import Suggestion
    from service.domain.vocabulary import SuggestionKind

    return Suggestion(
        member_id=member_id,
        kind=SuggestionKind.GROUP,
        target=f"listing:{listing_id}",
        listing_id=listing_id,
        cycle=cycle,
        score=fields.pop("score", 0.8),
        **fields,
    )
