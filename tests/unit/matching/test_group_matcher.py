"""GroupMatcher behaviour on small hand-made data: what it suggests, what it never does."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from service.matching import GroupMatcher
from service.matching.persistence import IncompatibleModel, load, save
from tests.unit.matching.builders import CLIFTON, EASTON, FAR_AWAY, catalogue, listing, profile


@pytest.fixture
def matcher():
    return GroupMatcher().fit(catalogue())


def ids(suggestions):
    return [s.listing_id for s in suggestions]


def test_is_a_well_behaved_estimator():
    matcher = GroupMatcher(k=4, diversity=0.1)
    assert matcher.get_params()["k"] == 4
    copy = clone(matcher)
    assert copy.get_params() == matcher.get_params()
    assert not hasattr(copy, "weights_")
    assert matcher.fit(catalogue()) is matcher
    assert hasattr(matcher, "weights_") and hasattr(matcher, "listing_interest_")
    assert matcher.set_params(k=2).k == 2


def test_interests_lead_to_matching_listings(matcher):
    top = matcher.recommend(profile("m", ["gardening"], ["environment"]), k=2)
    assert set(ids(top)) == {3, 4}
    assert all(0 <= s.score <= 1 for s in top)


def test_causes_count_as_much_as_hobbies(matcher):
    # No hobby in common with anything, but a cause: the environmental listings come first.
    top = matcher.recommend(profile("m", ["origami"], ["environment"]), k=2)
    assert set(ids(top)) == {3, 4}


def test_default_is_five_and_k_is_respected(matcher):
    member = profile("m", ["books"])
    assert len(matcher.recommend(member)) == 5
    assert len(matcher.recommend(member, k=2)) == 2


def test_a_service_with_nothing_posted_yet_suggests_nothing():
    chess = [profile(1, ["chess"]), profile(2, ["chess"])]
    empty = GroupMatcher().fit([], [], chess)
    assert empty.recommend(chess[0]) == []
    assert empty.recommend_batch(chess) == [[], []]


def test_never_closed_far_virtual_unasked_declined_or_excluded():
    interactions = [{"member_id": "m", "listing_id": 2, "kind": "declined"}]
    matcher = GroupMatcher().fit(catalogue(), interactions)
    member = profile("m", ["books", "reading", "hiking", "knitting", "poetry"])
    suggested = ids(matcher.recommend(member, k=10, exclude_ids=[1]))
    assert 8 not in suggested  # closed
    assert 7 not in suggested  # beyond the travel radius
    assert 6 not in suggested  # virtual, and the member asked for in person
    assert 2 not in suggested  # declined before
    assert 1 not in suggested  # excluded by the caller (already joined)


def test_virtual_only_when_asked(matcher):
    online = profile("m", ["knitting", "books"], attendance="virtual")
    assert ids(matcher.recommend(online, k=10)) == [6]
    either = profile("m", ["knitting"], attendance="either")
    assert 6 in ids(matcher.recommend(either, k=3))


def test_full_listings_are_not_offered():
    listings = [listing(1, "Tiny club", ["chess"], capacity=1), listing(2, "Chess too", ["chess"])]
    interactions = [{"member_id": "x", "listing_id": 1, "kind": "joined"}]
    matcher = GroupMatcher().fit(listings, interactions)
    assert ids(matcher.recommend(profile("m", ["chess"]), k=5)) == [2]


def test_only_listings_within_the_travel_radius(matcher):
    # In Manchester, only the Manchester listing is in reach, whatever the interests.
    far = profile("m", ["books", "gardening"], where=FAR_AWAY, travel_radius_km=2)
    assert ids(matcher.recommend(far, k=5)) == [7]


def test_start_slowly_puts_gentle_listings_first():
    listings = [
        listing(
            1,
            "Loud book party",
            ["books"],
            group_size="large",
            structure="open_social",
            pace="high_energy",
        ),
        listing(2, "Quiet book circle", ["books"]),
        listing(3, "Book club", ["books"], group_size="medium", pace="moderate"),
    ]
    matcher = GroupMatcher(diversity=0).fit(listings)
    slow = profile(
        "m",
        ["books"],
        start_slowly=True,
        comfort_group_size="large",
        comfort_structure="open_social",
        comfort_pace="high_energy",
    )
    assert ids(matcher.recommend(slow, k=3)) == [2, 3, 1]


def test_start_slowly_steps_up_with_attendance():
    listings = [
        listing(1, "Book club", ["books"], group_size="medium", pace="moderate", structure="mixed"),
        listing(2, "Quiet book circle", ["books"]),
        listing(3, "Other thing", ["cards"]),
    ]
    slow = profile(
        "m",
        ["books"],
        start_slowly=True,
        comfort_group_size="medium",
        comfort_structure="mixed",
        comfort_pace="moderate",
    )
    newcomer = GroupMatcher(diversity=0).fit(listings)
    assert ids(newcomer.recommend(slow, k=1)) == [2]
    attended = [{"member_id": "m", "listing_id": 3, "kind": "attended"}]
    stepped_up = GroupMatcher(diversity=0).fit(listings, attended)
    assert ids(stepped_up.recommend(slow, k=1)) == [1]


def test_diversity_avoids_near_duplicates():
    listings = [listing(i, f"Book club {i}", ["books", "reading"]) for i in range(1, 6)]
    listings.append(listing(6, "Gardening circle", ["gardening", "books"]))
    member = profile("m", ["books", "reading", "gardening"])
    plain = ids(GroupMatcher(diversity=0).fit(listings).recommend(member, k=3))
    varied = ids(GroupMatcher(diversity=0.5).fit(listings).recommend(member, k=3))
    assert 6 in varied
    assert sum(1 for i in plain if i != 6) >= sum(1 for i in varied if i != 6)


def test_collaborative_signal_from_people_like_you():
    listings = [
        listing(1, "Chess club", ["chess"]),
        listing(2, "Go club", ["go"]),
        listing(3, "Bridge club", ["cards"]),
    ]
    profiles = [profile(f"p{i}", ["chess"]) for i in range(5)]
    interactions = [{"member_id": f"p{i}", "listing_id": 3, "kind": "joined"} for i in range(5)]
    matcher = GroupMatcher(diversity=0).fit(listings, interactions, profiles)
    newcomer = profile("new", ["chess"])
    top = matcher.recommend(newcomer, k=3)
    bridge = next(s for s in top if s.listing_id == 3)
    assert "people with similar interests joined" in bridge.reasons
    assert bridge.signals["collaborative"] == 1.0


def test_popularity_is_the_cold_start():
    listings = [listing(1, "Club a", ["x"], popularity=500), listing(2, "Club b", ["x"])]
    matcher = GroupMatcher(diversity=0).fit(listings)
    assert ids(matcher.recommend(profile("m", ["x"]), k=2)) == [1, 2]


def test_weights_are_learned_from_enough_feedback():
    listings = catalogue()
    profiles = [profile(f"p{i}", ["books"] if i % 2 else ["gardening"]) for i in range(60)]
    interactions = []
    for p in profiles:
        liked, disliked = (1, 3) if "books" in p["interests"] else (3, 1)
        interactions += [
            {"member_id": p["id"], "listing_id": liked, "kind": "accepted"},
            {"member_id": p["id"], "listing_id": disliked, "kind": "declined"},
            {"member_id": p["id"], "listing_id": 5, "kind": "declined"},
        ]
    learned = GroupMatcher(min_feedback=100).fit(listings, interactions, profiles)
    default = GroupMatcher(min_feedback=10_000).fit(listings, interactions, profiles)
    assert learned.weights_learned_ and not default.weights_learned_
    assert learned.weights_[0] > default.weights_[0]  # content explains these answers
    assert np.isclose(learned.weights_.sum(), 1.0)


def test_reasons_name_the_real_shared_terms(matcher):
    member = profile("m", ["gardening"], ["environment"], availability=["sat_morning"])
    top = matcher.recommend(member, k=1)[0]
    text = " ".join(top.reasons)
    assert "gardening" in text and "environment" in text
    assert "Saturday mornings" in text
    assert "km from you in Easton" in text


def test_reasons_quote_the_listings_own_public_fields():
    listings = [
        listing(1, "Food bank shifts", ["cooking"], ["hunger"], direction="give", area="Redfield"),
        listing(2, "Online knitting", ["knitting"], is_virtual=True, lat=None, lon=None),
    ]
    matcher = GroupMatcher().fit(listings)
    giving = " ".join(matcher.recommend(profile("m", ["cooking"], ["hunger"]), k=1)[0].reasons)
    assert "a chance to give your time" in giving and "in Redfield" in giving
    assert "hunger, a cause you care about" in giving
    online = matcher.recommend(profile("v", ["knitting"], attendance="virtual"), k=1)[0]
    assert "meets online, as you asked" in online.reasons


def test_reasons_never_mention_other_peoples_private_fields():
    listings = [listing(1, "Chess club", ["chess"])]
    others = [profile("p1", ["chess"], start_slowly=True, interests_text="recently bereaved")]
    matcher = GroupMatcher().fit(listings, [{"member_id": "p1", "listing_id": 1}], others)
    text = " ".join(matcher.recommend(profile("m", ["chess"]), k=1)[0].reasons)
    assert "bereaved" not in text and "slowly" not in text


def test_one_new_listing_scored_against_many_members_matches_recommend(matcher):
    members = [
        profile("a", ["gardening"], ["environment"]),
        profile("b", ["chess"]),
        profile("c", ["gardening"], attendance="virtual"),
        profile("d", ["gardening"], where=FAR_AWAY),
    ]
    index = matcher.index_members(members)
    new = listing(99, "Community garden", ["gardening", "trees"], ["environment"])
    scores = matcher.score_new_listing(new, index)
    assert scores.shape == (4,)
    assert scores[0] > scores[1] > 0
    assert scores[2] == 0 and scores[3] == 0  # virtual-only member; out of reach
    # The same listing fitted into the catalogue scores the same for member a.
    refitted = GroupMatcher().fit([*catalogue(), new])
    position = list(refitted.listing_ids_).index(99)
    direct = refitted.score(members[0])[position]
    assert abs(direct - scores[0]) < 0.05, (direct, scores[0])


def test_needs_refit_when_catalogue_changed_enough(matcher):
    current = [x["id"] for x in catalogue()]
    assert not matcher.needs_refit(current)
    assert matcher.needs_refit([*current, 100, 101])


def test_saved_model_loads_and_recommends_the_same(matcher, tmp_path):
    path = save(matcher, tmp_path / "group.pkl")
    loaded = load(path)
    member = profile("m", ["books"])
    assert ids(loaded.recommend(member)) == ids(matcher.recommend(member))


def test_a_model_of_another_format_is_refused(matcher, tmp_path, monkeypatch):
    path = save(matcher, tmp_path / "group.pkl")
    monkeypatch.setattr("service.matching.persistence.MODEL_FORMAT", 999)
    with pytest.raises(IncompatibleModel):
        load(path)


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "notes.pkl"
    path.write_text("not a model at all")
    with pytest.raises(IncompatibleModel):
        load(path)


def test_batch_gives_each_member_what_recommend_gives(matcher):
    members = [
        profile("a", ["gardening"], ["environment"]),
        profile("b", ["books", "poetry"]),
        profile("c", ["knitting"], attendance="either"),
        profile("d", ["hiking"], where=FAR_AWAY),
        profile("e", ["music"], lat=None, lon=None),
        profile("f", ["books"], start_slowly=True),
    ]
    batch = matcher.recommend_batch(members, k=3, chunk_size=2)
    for member, suggestions in zip(members, batch, strict=True):
        single = matcher.recommend(member, k=3)
        assert [(s.listing_id, s.score) for s in suggestions] == [
            (s.listing_id, s.score) for s in single
        ]


def test_forked_workers_give_the_same_suggestions_and_report_progress(matcher):
    members = [
        profile(
            f"m{i}", [["gardening"], ["books"], ["chess"]][i % 3], where=[EASTON, CLIFTON][i % 2]
        )
        for i in range(12)
    ]
    done = []
    forked = matcher.recommend_batch(members, k=3, chunk_size=2, n_jobs=2, progress=done.append)
    alone = matcher.recommend_batch(members, k=3, chunk_size=2)
    assert forked == alone
    assert sum(done) == len(members) and len(done) == 6
    assert all(forked)


def test_a_short_shortlist_keeps_the_best_and_the_rules():
    listings = catalogue()
    member = profile("m", ["gardening"], ["environment"])
    full = GroupMatcher(shortlist=None).fit(listings)
    short = GroupMatcher(shortlist=3).fit(listings)
    assert ids(short.recommend(member, k=2)) == ids(full.recommend(member, k=2))
    # Excluded listings never take a place on the shortlist, so the next best still comes.
    assert ids(short.recommend(member, k=1, exclude_ids=[3, 4])) == ids(
        full.recommend(member, k=1, exclude_ids=[3, 4])
    )


def test_small_and_large_blocks_score_content_alike(matcher, monkeypatch):
    members = [profile(f"m{i}", ["gardening", "books"][i % 2 :], ["environment"]) for i in range(4)]
    pool = np.arange(len(matcher.listing_ids_))
    texts = matcher._texts(members)
    monkeypatch.setattr("service.matching.group.SMALL_BLOCK", 100)
    term_major = matcher._content_block(texts, pool)
    monkeypatch.setattr("service.matching.group.SMALL_BLOCK", 0)
    row_major = matcher._content_block(texts, pool)
    np.testing.assert_allclose(term_major, row_major, atol=1e-6)
