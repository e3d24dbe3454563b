"""What the matcher hands back: an id, a score in [0, 1], and reasons in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Suggestion:
    listing_id: object
    score: float
    reasons: list[str] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PeerSuggestion:
    member_id: object
    score: float
    reasons: list[str] = field(default_factory=list)
