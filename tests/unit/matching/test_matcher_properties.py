"""Properties that hold for any catalogue and any profile (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.matching import GroupMatcher, PeerMatcher
from service.matching.features import SLOTS
from service.matching.group import tfidf_rows

TAGS = ["books", "chess", "gardening", "music", "walking", "cooking", "art", "games"]
CAUSES = ["environment", "literacy", "health", "arts", "community"]
SIZES, STRUCTURES, PACES = (
    ["small", "medium", "large"],
    ["structured", "mixed", "open_social"],
    ["low_key", "moderate", "high_energy"],
)
coordinate = st.tuples(st.floats(51.40, 51.52), st.floats(-2.68, -2.50))

listing_strategy = st.builds(
    lambda i, tags, causes, where, virtual, status, size, structure, pace, day, capacity: {
        "id": i,
        "kind": "club",
        "direction": "receive",
        "title": " ".join(tags) or "club",
        "description": "a group",
        "interests": tags,
        "causes": causes,
        "is_virtual": virtual,
        "lat": None if virtual else where[0],
        "lon": None if virtual else where[1],
        "weekly_slots": [{"day": day, "start": "18:00", "minutes": 60}],
        "sessions": [],
        "group_size": size,
        "structure": structure,
        "pace": pace,
        "status": status,
        "capacity": capacity,
    },
    st.integers(),
    st.lists(st.sampled_from(TAGS), max_size=3, unique=True),
    st.lists(st.sampled_from(CAUSES), max_size=2, unique=True),
    coordinate,
    st.booleans(),
    st.sampled_from(["active", "active", "paused", "closed"]),
    st.sampled_from(SIZES),
    st.sampled_from(STRUCTURES),
    st.sampled_from(PACES),
    st.sampled_from(["mon", "wed", "sat"]),
    st.one_of(st.none(), st.integers(1, 3)),
)

profile_strategy = st.builds(
    lambda i, tags, causes, where, radius, free, attendance, slow, peers: {
        "id": f"m{i}",
        "interests": tags,
        "interests_text": "",
        "causes": causes,
        "lat": where[0],
        "lon": where[1],
        "travel_radius_km": radius,
        "availability": free,
        "attendance": attendance,
        "comfort_group_size": "medium",
        "comfort_structure": "mixed",
        "comfort_pace": "moderate",
        "start_slowly": slow,
        "consents": {"matching": True, "peer_introductions": peers},
    },
    st.integers(0, 10_000),
    st.lists(st.sampled_from(TAGS), max_size=4, unique=True),
    st.lists(st.sampled_from(CAUSES), max_size=3, unique=True),
    coordinate,
    st.floats(0.5, 30),
    st.lists(st.sampled_from(SLOTS), max_size=6, unique=True),
    st.sampled_from(["in_person", "virtual", "either"]),
    st.booleans(),
    st.booleans(),
)


def unique_ids(listings):
    for position, listing in enumerate(listings):
        listing["id"] = position + 1
    return listings


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(listing_strategy, min_size=1, max_size=25).map(unique_ids),
    profile_strategy,
    st.integers(1, 8),
    st.lists(st.tuples(st.integers(0, 5), st.integers(1, 25)), max_size=20),
)
def test_group_suggestions_are_few_valid_and_open(listings, member, k, joins):
    interactions = [{"member_id": f"m{m}", "listing_id": j, "kind": "joined"} for m, j in joins]
    matcher = GroupMatcher().fit(listings, interactions)
    suggestions = matcher.recommend(member, k=k)
    by_id = {listing["id"]: listing for listing in listings}
    assert len(suggestions) <= k
    assert len({s.listing_id for s in suggestions}) == len(suggestions)
    for suggestion in suggestions:
        chosen = by_id[suggestion.listing_id]
        assert 0.0 <= suggestion.score <= 1.0
        assert chosen["status"] == "active"
        assert suggestion.reasons
        if member["attendance"] == "in_person":
            assert not chosen["is_virtual"]
        if member["attendance"] == "virtual":
            assert chosen["is_virtual"]
    scores = matcher.score(member)
    assert np.all((scores >= 0) & (scores <= 1))


@settings(max_examples=30, deadline=None)
@given(st.lists(profile_strategy, min_size=2, max_size=15))
def test_peer_suggestions_respect_consent_and_are_reciprocal(people):
    people = list({p["id"]: p for p in people}.values())
    matcher = PeerMatcher(k=5).fit(people)
    for person in people:
        suggestions = matcher.recommend(person)
        if not person["consents"]["peer_introductions"]:
            assert suggestions == []
        by_id = {p["id"]: p for p in people}
        for suggestion in suggestions:
            assert suggestion.member_id != person["id"]
            assert by_id[suggestion.member_id]["consents"]["peer_introductions"]
            assert 0.0 <= suggestion.score <= 1.0
    consenting = [p for p in people if p["consents"]["peer_introductions"]]
    for a in consenting:
        scores_a = dict(zip(matcher.member_ids_, matcher.reciprocal_scores(a), strict=True))
        for b in consenting:
            scores_b = dict(zip(matcher.member_ids_, matcher.reciprocal_scores(b), strict=True))
            assert np.isclose(scores_a[b["id"]], scores_b[a["id"]], atol=1e-9)


WORDS = [*TAGS, *CAUSES, "tag_books", "the", "club", "walks", "zzz-unknown", "Ünïcode", "42"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join), min_size=1, max_size=6),
    st.sampled_from(["word", "char"]),
)
def test_fast_tfidf_rows_equal_scikit_learns_transform(documents, text_features):
    """The matcher's own vectorising shortcut gives exactly what `transform` gives."""
    catalogue = ["books and chess club", "gardening walks for the community", "music art games"]
    vectorizer = GroupMatcher(text_features=text_features)._vectorizer().fit(catalogue)
    fast = tfidf_rows(vectorizer, documents)
    expected = vectorizer.transform(documents)
    assert fast.dtype == np.float32 and fast.shape == expected.shape
    np.testing.assert_allclose(fast.toarray(), expected.toarray(), atol=1e-6)
