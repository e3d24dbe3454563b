"""PeerMatcher: consent first, both sides must fit, shared values weigh most."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from service.matching import PeerMatcher
from tests.unit.matching.builders import CLIFTON, EASTON, FAR_AWAY, profile


def no_peers(member_id, interests, causes=(), **extra):
    return profile(
        member_id,
        interests,
        causes,
        consents={"matching": True, "peer_introductions": False},
        **extra,
    )


@pytest.fixture
def people():
    return [
        profile("ann", ["books", "walking"], ["environment", "literacy"]),
        profile("bob", ["books"], ["environment", "literacy"], where=CLIFTON),
        profile("cy", ["books", "walking"], ["animal welfare"]),
        no_peers("dee", ["books", "walking"], ["environment", "literacy"]),
        profile("eve", ["books", "walking"], ["environment", "literacy"], where=FAR_AWAY),
        profile("fay", ["chess"], ["sport"]),
    ]


def ids(suggestions):
    return [s.member_id for s in suggestions]


def test_estimator_conventions():
    matcher = PeerMatcher(k=2)
    assert clone(matcher).get_params() == matcher.get_params()
    assert matcher.fit([profile("a", ["x"])]) is matcher


def test_only_consenting_members_are_suggested_or_served(people):
    matcher = PeerMatcher(k=10).fit(people)
    suggested = ids(matcher.recommend(people[0]))
    assert "dee" not in suggested and "ann" not in suggested
    assert matcher.recommend(people[3]) == []  # dee did not consent: no peers for her either


def test_shared_values_weigh_more_than_shared_hobbies(people):
    top = PeerMatcher(k=2).fit(people).recommend(people[0])
    # bob shares ann's values (but fewer hobbies) and beats cy, who shares hobbies only.
    assert ids(top)[0] == "bob"
    assert "you both care about environment and literacy" in top[0].reasons


def test_reciprocal_score_is_symmetric(people):
    matcher = PeerMatcher().fit(people)
    ann, bob = people[0], people[1]
    ann_to_bob = dict(zip(matcher.member_ids_, matcher.reciprocal_scores(ann), strict=True))["bob"]
    bob_to_ann = dict(zip(matcher.member_ids_, matcher.reciprocal_scores(bob), strict=True))["ann"]
    assert ann_to_bob == pytest.approx(bob_to_ann)


def test_both_sides_must_fit_travel():
    # Gil travels far, Hal barely leaves home: 6 km apart suits Gil but not Hal.
    gil = profile("gil", ["books"], ["literacy"], where=EASTON, travel_radius_km=30)
    hal = profile("hal", ["books"], ["literacy"], where=CLIFTON, travel_radius_km=1)
    near = profile("ivy", ["books"], ["literacy"], where=(51.465, -2.57), travel_radius_km=30)
    matcher = PeerMatcher(k=2).fit([gil, hal, near])
    forward, backward = matcher.directional_scores(gil)
    position = list(matcher.member_ids_).index("hal")
    assert forward[position] > backward[position]
    assert ids(matcher.recommend(gil))[0] == "ivy"


def test_declined_or_blocked_pairs_never_return(people):
    matcher = PeerMatcher(k=10).fit(
        people,
        interactions=[{"member_id": "bob", "peer_id": "ann", "kind": "declined_peer"}],
        blocked_pairs=[("ann", "cy")],
    )
    suggested = ids(matcher.recommend(people[0]))
    assert "bob" not in suggested and "cy" not in suggested
    assert "ann" not in ids(matcher.recommend(people[1]))


def test_reasons_reveal_nothing_private(people):
    people[1]["start_slowly"] = True
    people[1]["interests_text"] = "I have been very lonely since my divorce"
    top = PeerMatcher(k=5).fit(people).recommend(people[0])
    text = " ".join(" ".join(s.reasons) for s in top)
    assert "lonely" not in text and "slowly" not in text and "divorce" not in text
    assert "comfort" not in text
    # Distance is given as a band, never precisely.
    assert any("lives within" in r and "km of you" in r for s in top for r in s.reasons)
