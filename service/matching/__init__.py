"""The matcher: scikit-learn estimators that suggest a few groups and a few peers, with reasons.

Pure Python over plain dicts shaped like the API payloads: no Flask, no database, no queue.

    from service.matching import GroupMatcher, PeerMatcher
    suggestions = GroupMatcher().fit(listings, interactions).recommend(profile, k=5)
"""

from service.matching.group import GroupMatcher
from service.matching.peer import PeerMatcher
from service.matching.suggestion import PeerSuggestion, Suggestion

__all__ = ["GroupMatcher", "PeerMatcher", "PeerSuggestion", "Suggestion"]
