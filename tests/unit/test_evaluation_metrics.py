"""The evaluation's metrics and splits on cases small enough to work out by hand."""

from __future__ import annotations

import math

import pytest
import scipy.sparse as sp

from service.matching.datasets import Dataset, strip_html
from service.matching.evaluation import (
    Task,
    build_group_split,
    build_peer_split,
    catalogue_coverage,
    intra_list_diversity,
    mrr_at,
    ndcg_at,
    params_from,
    precision_at,
    ranking_metrics,
    recall_at,
    split_members,
    target_check,
)

RANKED = ["a", "b", "c", "d"]
TRUTH = {"b", "d"}


def test_recall_and_precision_count_hits_in_the_top_k():
    assert recall_at(RANKED, TRUTH, 3) == pytest.approx(1 / 2)
    assert recall_at(RANKED, TRUTH, 10) == pytest.approx(1.0)
    assert precision_at(RANKED, TRUTH, 3) == pytest.approx(1 / 3)
    # Precision divides by k even when the list is shorter: empty places are misses.
    assert precision_at(RANKED, TRUTH, 10) == pytest.approx(2 / 10)


def test_mrr_is_one_over_the_first_hit_within_k():
    assert mrr_at(RANKED, TRUTH, 3) == pytest.approx(1 / 2)
    assert mrr_at(RANKED, {"d"}, 3) == 0.0
    assert mrr_at(RANKED, {"d"}, 5) == pytest.approx(1 / 4)


def test_ndcg_against_the_ideal_order():
    # Hits at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3).
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert ndcg_at(RANKED, TRUTH, 5) == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    # At k=3 only the hit at rank 2 counts, but the ideal still has two hits.
    assert ndcg_at(RANKED, TRUTH, 3) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert ndcg_at(["b", "d", "a"], TRUTH, 3) == pytest.approx(1.0)
    # One relevant item and k=1: the ideal is a single hit at rank 1.
    assert ndcg_at(["b"], {"b", "d"}, 1) == pytest.approx(1.0)


def test_empty_truth_scores_zero_rather_than_dividing_by_zero():
    assert recall_at(RANKED, set(), 3) == 0.0
    assert ndcg_at(RANKED, set(), 3) == 0.0
    assert mrr_at([], {"a"}, 3) == 0.0


def test_ranking_metrics_names_every_metric_at_every_k():
    metrics = ranking_metrics(RANKED, TRUTH)
    assert set(metrics) == {
        f"{name}@{k}" for name in ("recall", "ndcg", "mrr", "precision") for k in (3, 5, 10)
    }


def test_coverage_is_the_share_of_candidates_shown_to_anyone():
    assert catalogue_coverage([["a", "b"], ["b", "c"]], 4) == pytest.approx(0.75)
    assert catalogue_coverage([], 4) == 0.0


def test_diversity_is_one_minus_mean_pairwise_cosine():
    # a and c point the same way, b is orthogonal to both.
    vectors = sp.csr_matrix([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    row_of = {"a": 0, "b": 1, "c": 2}
    assert intra_list_diversity([["a", "b"]], vectors, row_of) == pytest.approx(1.0)
    assert intra_list_diversity([["a", "c"]], vectors, row_of) == pytest.approx(0.0)
    # Three items: pairs (a,b)=0, (a,c)=1, (b,c)=0, so mean cosine 1/3.
    assert intra_list_diversity([["a", "b", "c"]], vectors, row_of) == pytest.approx(2 / 3)
    # A one-item list has no pairs and does not count.
    assert intra_list_diversity([["a", "b"], ["c"]], vectors, row_of) == pytest.approx(1.0)


def test_member_halves_are_seeded_disjoint_and_complete():
    members = [f"m{i:02d}" for i in range(21)]
    validation = split_members(members, "validation", seed=3)
    test = split_members(members, "test", seed=3)
    assert set(validation).isdisjoint(test)
    assert sorted(validation + test) == members
    assert len(validation) == 10
    assert split_members(reversed(members), "test", seed=3) == test
    assert split_members(members, "test", seed=4) != test
    with pytest.raises(ValueError):
        split_members(members, "train", seed=3)


def tiny_dataset() -> Dataset:
    """Four members, three candidate groups and one catalogue-only listing."""
    listings = [
        {"id": group, "title": group, "description": "", "interests": [], "popularity": 99}
        for group in ("g1", "g2", "g3", "extra")
    ]
    joins = {
        "m1": [("g1", "2020-01-01"), ("g2", "2020-02-01"), ("g3", "2020-03-01")],
        "m2": [("g1", "2020-01-05"), ("g2", "2020-01-02")],
        "m3": [("g2", "2021-01-01")],
        "m4": [("g1", "2019-01-01"), ("g3", "2019-06-01")],
    }
    interactions = [
        {"member_id": member, "listing_id": group, "kind": "joined", "time": when}
        for member, rows in joins.items()
        for group, when in rows
    ]
    profiles = {
        member: {"id": member, "interests": [], "consents": {"peer_introductions": True}}
        for member in joins
    }
    return Dataset(
        name="tiny",
        listings=listings,
        profiles=profiles,
        interactions=interactions,
        candidate_ids=frozenset({"g1", "g2", "g3"}),
    )


def test_holdout_takes_each_members_most_recent_join_and_hides_it_from_training():
    dataset = tiny_dataset()
    for split in ("validation", "test"):
        groups = build_group_split(dataset, split, seed=0, holdout_fraction=0.2)
        for task in groups.tasks:
            latest = max(
                (row["time"], row["listing_id"])
                for row in dataset.interactions
                if row["member_id"] == task.member_id
            )[1]
            assert task.truth == {latest}
            assert latest not in task.known
            assert all(
                (row["member_id"], row["listing_id"]) != (task.member_id, latest)
                for row in groups.interactions
            )


def test_training_popularity_replaces_a_prior_that_counts_held_out_joins():
    groups = build_group_split(tiny_dataset(), "test", seed=0)
    popularity = {listing["id"]: listing["popularity"] for listing in groups.listings}
    joined = [row["listing_id"] for row in groups.interactions]
    for group in ("g1", "g2", "g3"):
        assert popularity[group] == joined.count(group)
    # Nobody's joins of "extra" are in the data, so its prior is all there is.
    assert popularity["extra"] == 99


def test_query_data_sets_split_the_catalogue_instead_of_members():
    listings = [{"id": f"l{i}", "title": "", "description": ""} for i in range(10)]
    dataset = Dataset(
        name="queries",
        listings=listings,
        profiles={"q": {"id": "q"}},
        interactions=[],
        candidate_ids=frozenset(listing["id"] for listing in listings),
        relevance={"q": frozenset({"l1", "l2", "l3", "l4"})},
    )
    validation = build_group_split(dataset, "validation", seed=1)
    test = build_group_split(dataset, "test", seed=1)
    assert set(validation.candidate_ids).isdisjoint(test.candidate_ids)
    assert len(validation.candidate_ids) + len(test.candidate_ids) == 10
    truths = [task.truth for split in (validation, test) for task in split.tasks]
    assert set().union(*truths) == {"l1", "l2", "l3", "l4"}


def test_peer_truth_is_who_a_member_meets_only_through_a_held_out_group():
    dataset = tiny_dataset()
    groups = build_group_split(dataset, "test", seed=0)
    groups.tasks = [
        # g3 holds m1 and m4; m1 kept g2 (with m2 and m3), so m4 is someone new.
        Task("m1", frozenset({"g3"}), frozenset({"g2"})),
        # m4 already met m1 in g1, so the held-out g3 brings nobody new: no task.
        Task("m4", frozenset({"g3"}), frozenset({"g1"})),
    ]
    [task] = build_peer_split(dataset, groups).tasks
    assert task.member_id == "m1"
    assert task.truth == {"m4"}
    assert task.known == {"m2", "m3"}


def test_target_check_reports_the_gain_over_the_best_baseline_and_whether_it_can_be_reached():
    report = {
        "protocol": {"best_possible": {"recall@10": 1.0}},
        "methods": {
            "random": {"recall@10": 0.5, "ndcg@10": 0.2},
            "popularity": {"recall@10": 0.9, "ndcg@10": 0.4},
            "matcher": {"recall@10": 0.95, "ndcg@10": 0.5},
        },
    }
    check = target_check(report)
    assert check["recall@10"]["best_baseline"] == "popularity"
    assert check["recall@10"]["needed"] == pytest.approx(1.035)
    assert check["recall@10"]["reachable"] is False
    assert check["recall@10"]["met"] is False
    assert check["ndcg@10"]["relative_gain"] == pytest.approx(0.25)
    assert check["ndcg@10"]["met"] is True


def test_params_from_reads_json_values_and_keeps_plain_words():
    assert params_from(["diversity=0.3", "text_features=char", 'learn_weights="off"']) == {
        "diversity": 0.3,
        "text_features": "char",
        "learn_weights": "off",
    }
    with pytest.raises(ValueError):
        params_from(["diversity"])


def test_strip_html_keeps_the_words_and_drops_markup_and_scripts():
    text = "<p>Hikes &amp; picnics</p><script>track()</script><p>Sat\u00c2\u00a0mornings</p>"
    assert strip_html(text) == "Hikes & picnics\nSat mornings"
