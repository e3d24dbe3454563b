"""Offline evaluation of the matcher on real data, against baselines run on the same split.

The protocol (docs/evaluation.md says it in prose):

1. Members with a profile and at least one join of a candidate listing are split, by a seeded
   shuffle, into a validation half and a test half. Settings are chosen on validation only.
2. For each member of the chosen half, the most recent fifth (at least one) of their candidate
   joins is held out; everything else - their other joins and every other member's joins - is
   training data. Query data sets (NYC) have judgments instead of joins: there the catalogue is
   split in halves, and each query is judged on its half.
3. Every method ranks the candidate listings the member has not already joined; the held-out
   joins are the truth. Metrics: recall, NDCG, MRR and precision at 3, 5 and 10; coverage of
   the candidates by everyone's top 10; intra-list diversity of each top 10.
4. Peers: the people a member met through a held-out group (and not through a group they kept)
   are the truth; every method ranks everyone else who consented to introductions.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from tqdm import tqdm

from service.matching.datasets import Dataset
from service.matching.peer import consents_to_peers

KS = (3, 5, 10)
K_MAX = max(KS)
SPLITS = ("validation", "test")
HOLDOUT_FRACTION = 0.2
TARGET_GAIN = 0.15
TARGET_METRICS = ("recall@10", "ndcg@10")
GROUP_METHODS = ("random", "popularity", "tfidf", "matcher")
PEER_METHODS = ("random", "topic_overlap", "most_active", "matcher")
BASELINES = frozenset({"random", "popularity", "tfidf", "topic_overlap", "most_active"})
CHART_METRICS = (
    *(f"{name}@{k}" for name in ("recall", "ndcg", "mrr") for k in KS),
    "precision@10",
    "coverage",
    "diversity",
)


# --- Metrics on one ranked list ----------------------------------------------------------------


def recall_at(ranked: Sequence, truth: set, k: int) -> float:
    return len(set(ranked[:k]) & truth) / len(truth) if truth else 0.0


def precision_at(ranked: Sequence, truth: set, k: int) -> float:
    return len(set(ranked[:k]) & truth) / k


def ndcg_at(ranked: Sequence, truth: set, k: int) -> float:
    """Binary-gain NDCG: the ideal list puts the truth (up to k items) first."""
    gains = (1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in truth)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(truth), k)))
    return sum(gains) / ideal if ideal else 0.0


def mrr_at(ranked: Sequence, truth: set, k: int) -> float:
    for rank, item in enumerate(ranked[:k]):
        if item in truth:
            return 1.0 / (rank + 1)
    return 0.0


def ranking_metrics(ranked: Sequence, truth: set, ks: Iterable[int] = KS) -> dict[str, float]:
    metrics = {}
    for k in ks:
        metrics[f"recall@{k}"] = recall_at(ranked, truth, k)
        metrics[f"ndcg@{k}"] = ndcg_at(ranked, truth, k)
        metrics[f"mrr@{k}"] = mrr_at(ranked, truth, k)
        metrics[f"precision@{k}"] = precision_at(ranked, truth, k)
    return metrics


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {name: float(np.mean([row[name] for row in rows])) for name in rows[0]}


# --- Metrics over all the lists of one method --------------------------------------------------


def catalogue_coverage(lists: Iterable[Sequence], candidate_count: int) -> float:
    """Share of the candidates that appear in at least one list."""
    shown = {item for items in lists for item in items}
    return len(shown) / candidate_count if candidate_count else 0.0


def intra_list_diversity(lists: Iterable[Sequence], vectors: sp.csr_matrix, row_of: dict) -> float:
    """Mean over lists of 1 - mean pairwise cosine of the listed items' (L2-normed) vectors.

    A list of fewer than two items has no pairs, so it is left out.
    """
    scores = []
    for items in lists:
        rows = [row_of[item] for item in items if item in row_of]
        if len(rows) < 2:
            continue
        block = vectors[rows]
        similarity = (block @ block.T).toarray()
        pairs = similarity[np.triu_indices(len(rows), k=1)]
        scores.append(1.0 - float(pairs.mean()))
    return float(np.mean(scores)) if scores else 0.0


# --- Text --------------------------------------------------------------------------------------


def listing_text(listing: dict) -> str:
    tags = [*(listing.get("interests") or []), *(listing.get("causes") or [])]
    return " ".join([listing.get("title") or "", listing.get("description") or "", *tags])


def profile_text(profile: dict) -> str:
    words = [*(profile.get("interests") or []), profile.get("interests_text") or ""]
    return " ".join([*words, *(profile.get("causes") or [])])


def text_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=1)


# --- Splits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One member (or query) to rank for: truth is held out, known is never ranked."""

    member_id: str
    truth: frozenset
    known: frozenset


@dataclass
class GroupSplit:
    name: str
    listings: list[dict]
    candidate_ids: list[str]
    interactions: list[dict]
    profiles: dict[str, dict]
    tasks: list[Task]


def split_members(member_ids: Iterable[str], split: str, seed: int) -> list[str]:
    """The validation half or the test half of the members, by a seeded shuffle."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    ordered = sorted(member_ids)
    random.Random(seed).shuffle(ordered)
    half = len(ordered) // 2
    return sorted(ordered[:half] if split == "validation" else ordered[half:])


def build_group_split(
    dataset: Dataset, split: str, seed: int = 0, holdout_fraction: float = HOLDOUT_FRACTION
) -> GroupSplit:
    if dataset.relevance is not None:
        return query_split(dataset, split, seed)
    return holdout_split(dataset, split, seed, holdout_fraction)


def holdout_split(dataset: Dataset, split: str, seed: int, holdout_fraction: float) -> GroupSplit:
    joins = candidate_joins(dataset)
    evaluable = [member for member in dataset.profiles if joins.get(member)]
    everything = listings_by_member(dataset.interactions)
    tasks, hidden = [], set()
    for member in split_members(evaluable, split, seed):
        ordered = joins[member]
        count = max(1, round(holdout_fraction * len(ordered)))
        truth = frozenset(ordered[-count:])
        tasks.append(Task(member, truth, frozenset(everything[member] - truth)))
        hidden.update((member, listing) for listing in truth)
    training = [
        row for row in dataset.interactions if (row["member_id"], row["listing_id"]) not in hidden
    ]
    return GroupSplit(
        name=split,
        listings=with_training_popularity(dataset, training),
        candidate_ids=sorted(dataset.candidate_ids),
        interactions=training,
        profiles=with_demonstrated_reach(dataset, training),
        tasks=tasks,
    )


def candidate_joins(dataset: Dataset) -> dict[str, list[str]]:
    """Each member's joins of candidate listings, oldest first (ties by listing id)."""
    first_join: dict[tuple, str] = {}
    for row in dataset.interactions:
        if row["kind"] != "joined" or row["listing_id"] not in dataset.candidate_ids:
            continue
        key = (row["member_id"], row["listing_id"])
        when = row.get("time") or ""
        first_join[key] = min(first_join.get(key, when), when)
    joins: dict[str, list[tuple]] = defaultdict(list)
    for (member, listing), when in first_join.items():
        joins[member].append((when, listing))
    return {member: [listing for _, listing in sorted(rows)] for member, rows in joins.items()}


def listings_by_member(interactions: Iterable[dict]) -> dict[str, set]:
    found: dict[str, set] = defaultdict(set)
    for row in interactions:
        if row["kind"] != "declined":
            found[row["member_id"]].add(row["listing_id"])
    return found


def with_training_popularity(dataset: Dataset, training: list[dict]) -> list[dict]:
    """Listings whose prior counts the same joins we hold out get the training count instead.

    Meetup's member count includes the held-out joins; leaving it in would leak the answer.
    """
    observed = {row["listing_id"] for row in dataset.interactions}
    counts = Counter(row["listing_id"] for row in training if row["kind"] == "joined")
    return [
        {**listing, "popularity": counts[listing["id"]]} if listing["id"] in observed else listing
        for listing in dataset.listings
    ]


def with_demonstrated_reach(dataset: Dataset, training: list[dict]) -> dict[str, dict]:
    """Profiles whose travel radius covers the farthest group each member joined in training.

    The data sets do not say how far people travel, so loaders assume a radius; a member who
    already goes farther than that has shown they do. Only training joins are used, so nothing
    about the held-out answer leaks into the profile.
    """
    places = {listing["id"]: listing for listing in dataset.listings}
    farthest: dict[str, float] = defaultdict(float)
    for row in training:
        listing = places.get(row["listing_id"])
        profile = dataset.profiles.get(row["member_id"])
        if listing is None or profile is None:
            continue
        km = distance_km(profile, listing)
        if math.isfinite(km):
            farthest[row["member_id"]] = max(farthest[row["member_id"]], km)
    return {
        member: {
            **profile,
            "travel_radius_km": max(
                profile.get("travel_radius_km") or 0, math.ceil(farthest[member]) + 1
            ),
        }
        if member in farthest
        else profile
        for member, profile in dataset.profiles.items()
    }


def query_split(dataset: Dataset, split: str, seed: int) -> GroupSplit:
    """Judged queries have no members to split, so the catalogue is split in halves instead."""
    half = set(split_members((listing["id"] for listing in dataset.listings), split, seed))
    tasks = [
        Task(query_id, relevant & half, frozenset())
        for query_id, relevant in sorted(dataset.relevance.items())
        if relevant & half
    ]
    return GroupSplit(
        name=split,
        listings=[listing for listing in dataset.listings if listing["id"] in half],
        candidate_ids=sorted(half & dataset.candidate_ids),
        interactions=[],
        profiles=dataset.profiles,
        tasks=tasks,
    )


# --- Group methods -----------------------------------------------------------------------------


class GroupMethod:
    """A way of ranking listings for a member; the baselines and the matcher share this shape."""

    name = "method"

    def fit(self, split: GroupSplit) -> GroupMethod:
        self.split_ = split
        self.candidates_ = split.candidate_ids
        return self

    def open_candidates(self, task: Task) -> list[str]:
        return [listing for listing in self.candidates_ if listing not in task.known]

    def rank(self, task: Task, k: int) -> list[str]:
        raise NotImplementedError


class RandomGroups(GroupMethod):
    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def rank(self, task: Task, k: int) -> list[str]:
        items = self.open_candidates(task)
        # Seeded per member, so the list does not depend on the order members are evaluated in.
        random.Random(f"{self.seed}:{task.member_id}").shuffle(items)
        return items[:k]


class PopularGroups(GroupMethod):
    name = "popularity"

    def fit(self, split: GroupSplit) -> PopularGroups:
        super().fit(split)
        joins = Counter(row["listing_id"] for row in split.interactions if row["kind"] == "joined")
        prior = {listing["id"]: listing.get("popularity") or 0 for listing in split.listings}
        self.order_ = sorted(self.candidates_, key=lambda item: (-joins[item], -prior[item], item))
        return self

    def rank(self, task: Task, k: int) -> list[str]:
        return [item for item in self.order_ if item not in task.known][:k]


class TfidfGroups(GroupMethod):
    name = "tfidf"

    def fit(self, split: GroupSplit) -> TfidfGroups:
        super().fit(split)
        text_of = {listing["id"]: listing_text(listing) for listing in split.listings}
        self.vectorizer_ = text_vectorizer().fit(text_of.values())
        self.matrix_ = self.vectorizer_.transform([text_of[item] for item in self.candidates_])
        return self

    def rank(self, task: Task, k: int) -> list[str]:
        query = self.vectorizer_.transform([profile_text(self.split_.profiles[task.member_id])])
        scores = (self.matrix_ @ query.T).toarray().ravel()
        ranked = sorted(range(len(scores)), key=lambda row: (-scores[row], self.candidates_[row]))
        return [self.candidates_[row] for row in ranked if self.candidates_[row] not in task.known][
            :k
        ]


class MatcherGroups(GroupMethod):
    """kindred's GroupMatcher, fitted on the training joins of the split."""

    name = "matcher"

    def __init__(self, params: dict | None = None):
        self.params = params or {}

    def fit(self, split: GroupSplit) -> MatcherGroups:
        from service.matching import GroupMatcher

        super().fit(split)
        matcher = GroupMatcher(**self.params)
        extra = {}
        if "profiles" in inspect.signature(matcher.fit).parameters:
            extra["profiles"] = list(split.profiles.values())
        self.matcher_ = matcher.fit(split.listings, split.interactions, **extra)
        every_listing = {listing["id"] for listing in split.listings}
        self.not_candidates_ = frozenset(every_listing - set(self.candidates_))
        return self

    def rank(self, task: Task, k: int) -> list[str]:
        profile = self.split_.profiles[task.member_id]
        exclude = self.not_candidates_ | task.known
        return [s.listing_id for s in self.matcher_.recommend(profile, k=k, exclude_ids=exclude)]


def group_methods(names: Iterable[str], seed: int, matcher_params: dict | None) -> list:
    makers = {
        "random": lambda: RandomGroups(seed),
        "popularity": PopularGroups,
        "tfidf": TfidfGroups,
        "matcher": lambda: MatcherGroups(matcher_params),
    }
    return [makers[name]() for name in names]


# --- Peers -------------------------------------------------------------------------------------


@dataclass
class PeerSplit:
    profiles: dict[str, dict]
    interactions: list[dict]
    tasks: list[Task]


def build_peer_split(dataset: Dataset, groups: GroupSplit) -> PeerSplit:
    """Peers met through a held-out group are the truth; peers met through kept groups are known.

    Holding out the joins (rather than the pairs) keeps the training data honest: a pair cannot
    be hidden while both people's memberships of the group they share are still visible.
    """
    consenting = {key: value for key, value in dataset.profiles.items() if consents_to_peers(value)}
    members_of: dict[str, set] = defaultdict(set)
    for row in dataset.interactions:
        if row["kind"] == "joined" and row["member_id"] in consenting:
            members_of[row["listing_id"]].add(row["member_id"])
    candidates = set(groups.candidate_ids)
    tasks = []
    for task in groups.tasks:
        if task.member_id not in consenting:
            continue
        met = set().union(*(members_of[group] for group in task.known & candidates))
        new = set().union(*(members_of[group] for group in task.truth))
        met.discard(task.member_id)
        truth = new - met - {task.member_id}
        if truth:
            tasks.append(Task(task.member_id, frozenset(truth), frozenset(met)))
    return PeerSplit(profiles=consenting, interactions=groups.interactions, tasks=tasks)


class PeerMethod:
    name = "method"

    def fit(self, split: PeerSplit) -> PeerMethod:
        self.split_ = split
        self.pool_ = sorted(split.profiles)
        return self

    def open_peers(self, task: Task) -> list[str]:
        return [peer for peer in self.pool_ if peer not in task.known and peer != task.member_id]

    def rank(self, task: Task, k: int) -> list[str]:
        raise NotImplementedError


class RandomPeers(PeerMethod):
    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def rank(self, task: Task, k: int) -> list[str]:
        peers = self.open_peers(task)
        random.Random(f"{self.seed}:{task.member_id}").shuffle(peers)
        return peers[:k]


class TopicOverlapPeers(PeerMethod):
    """Jaccard overlap of interest and cause tags; nearer people first among equals."""

    name = "topic_overlap"

    def fit(self, split: PeerSplit) -> TopicOverlapPeers:
        super().fit(split)
        self.tags_ = {key: tag_set(value) for key, value in split.profiles.items()}
        return self

    def rank(self, task: Task, k: int) -> list[str]:
        me = self.split_.profiles[task.member_id]
        mine = self.tags_[task.member_id]

        def key(peer: str) -> tuple:
            theirs = self.tags_[peer]
            union = len(mine | theirs)
            overlap = len(mine & theirs) / union if union else 0.0
            return (-overlap, distance_km(me, self.split_.profiles[peer]), peer)

        return sorted(self.open_peers(task), key=key)[:k]


class MostActivePeers(PeerMethod):
    """The peer version of popularity: people who joined the most groups in training."""

    name = "most_active"

    def fit(self, split: PeerSplit) -> MostActivePeers:
        super().fit(split)
        joins = Counter(row["member_id"] for row in split.interactions if row["kind"] == "joined")
        self.order_ = sorted(self.pool_, key=lambda peer: (-joins[peer], peer))
        return self

    def rank(self, task: Task, k: int) -> list[str]:
        return [p for p in self.order_ if p not in task.known and p != task.member_id][:k]


class MatcherPeers(PeerMethod):
    name = "matcher"

    def __init__(self, params: dict | None = None):
        self.params = params or {}

    def fit(self, split: PeerSplit) -> MatcherPeers:
        from service.matching import PeerMatcher

        super().fit(split)
        profiles = list(split.profiles.values())
        self.matcher_ = PeerMatcher(**self.params).fit(profiles, split.interactions)
        return self

    def rank(self, task: Task, k: int) -> list[str]:
        # The matcher takes no exclusions, so ask for enough to drop the people already met.
        wanted = k + len(task.known) + 1
        suggestions = self.matcher_.recommend(self.split_.profiles[task.member_id], k=wanted)
        peers = [s.member_id for s in suggestions]
        return [p for p in peers if p not in task.known and p != task.member_id][:k]


def peer_methods(names: Iterable[str], seed: int, params: dict | None) -> list:
    makers = {
        "random": lambda: RandomPeers(seed),
        "topic_overlap": TopicOverlapPeers,
        "most_active": MostActivePeers,
        "matcher": lambda: MatcherPeers(params),
    }
    return [makers[name]() for name in names]


def tag_set(profile: dict) -> set[str]:
    return {*(profile.get("interests") or []), *(profile.get("causes") or [])}


def distance_km(a: dict, b: dict) -> float:
    """Great-circle distance; unknown places sort after every known one."""
    if None in (a.get("lat"), a.get("lon"), b.get("lat"), b.get("lon")):
        return math.inf
    lat1, lon1, lat2, lon2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))


# --- Running -----------------------------------------------------------------------------------


def run_method(method, split, tasks: list[Task], pool_size: int, label: str, progress: bool):
    """Fit one method, rank for every task, and return its metrics and its top-k lists."""
    started = time.perf_counter()
    method.fit(split)
    fitted = time.perf_counter()
    lists, rows = [], []
    for task in tqdm(tasks, desc=label, file=sys.stderr, disable=not progress, leave=False):
        ranked = method.rank(task, K_MAX)
        lists.append(ranked)
        rows.append(ranking_metrics(ranked, set(task.truth)))
    metrics = mean_metrics(rows)
    for name in TARGET_METRICS:
        # With few tasks (NYC has six queries) a gain can be noise; the standard error shows it.
        metrics[f"{name}_stderr"] = standard_error([row[name] for row in rows])
    metrics["coverage"] = catalogue_coverage(lists, pool_size)
    metrics["fit_seconds"] = round(fitted - started, 3)
    metrics["rank_ms_per_task"] = round(1000 * (time.perf_counter() - fitted) / len(tasks), 3)
    return metrics, lists


def evaluate_groups(
    dataset: Dataset,
    split: str = "test",
    seed: int = 0,
    methods: Iterable[str] = GROUP_METHODS,
    matcher_params: dict | None = None,
    progress: bool = True,
    groups: GroupSplit | None = None,
) -> dict:
    groups = groups or build_group_split(dataset, split, seed)
    if not groups.tasks:
        raise ValueError(f"{dataset.name}: no member in the {split} split has a join to hold out")
    vectors, row_of = listing_vectors(groups.listings)
    results = {}
    for method in group_methods(methods, seed, matcher_params):
        label = f"{dataset.name} groups {method.name}"
        metrics, lists = run_method(
            method, groups, groups.tasks, len(groups.candidate_ids), label, progress
        )
        metrics["diversity"] = intra_list_diversity(lists, vectors, row_of)
        results[method.name] = metrics
    return {"protocol": group_protocol(dataset, groups), "methods": results}


def evaluate_peers(
    dataset: Dataset,
    groups: GroupSplit,
    seed: int = 0,
    methods: Iterable[str] = PEER_METHODS,
    peer_params: dict | None = None,
    progress: bool = True,
) -> dict | None:
    """None for data sets without joins (nobody shares a group, so there is no truth)."""
    if not dataset.interactions:
        return None
    peers = build_peer_split(dataset, groups)
    if not peers.tasks:
        return None
    results = {}
    for method in peer_methods(methods, seed, peer_params):
        label = f"{dataset.name} peers {method.name}"
        metrics, _ = run_method(method, peers, peers.tasks, len(peers.profiles), label, progress)
        results[method.name] = metrics
    return {"protocol": peer_protocol(peers), "methods": results}


def evaluate(
    dataset: Dataset,
    split: str = "test",
    seed: int = 0,
    matcher_params: dict | None = None,
    peer_params: dict | None = None,
    group_method_names: Iterable[str] = GROUP_METHODS,
    peer_method_names: Iterable[str] = PEER_METHODS,
    progress: bool = True,
) -> dict:
    """The whole report for one data set and one split: groups, peers and the target check."""
    groups = build_group_split(dataset, split, seed)
    group_report = evaluate_groups(
        dataset,
        split,
        seed,
        group_method_names,
        matcher_params,
        progress,
        groups=groups,
    )
    peer_report = evaluate_peers(dataset, groups, seed, peer_method_names, peer_params, progress)
    return {
        "dataset": dataset.name,
        "split": split,
        "seed": seed,
        "matcher_params": matcher_params or {},
        "groups": group_report,
        "groups_target": target_check(group_report),
        "peers": peer_report,
        "peers_target": target_check(peer_report) if peer_report else None,
    }


def choose_on_validation(
    dataset: Dataset,
    settings: list[dict],
    metric: str = "ndcg@10",
    seed: int = 0,
    progress: bool = False,
) -> tuple[dict, list[tuple[dict, float]]]:
    """The matcher settings that score best on the validation split, and every setting's score.

    Only the validation split is ever read here, so the test split stays untouched by tuning.
    """
    groups = build_group_split(dataset, "validation", seed)
    scored = []
    for params in settings:
        report = evaluate_groups(
            dataset, "validation", seed, ["matcher"], params, progress, groups=groups
        )
        scored.append((params, report["methods"]["matcher"][metric]))
    best = max(scored, key=lambda pair: pair[1])[0]
    return best, scored


# --- What the numbers mean ---------------------------------------------------------------------


def listing_vectors(listings: list[dict]) -> tuple[sp.csr_matrix, dict]:
    """TF-IDF vectors of every listing, shared by all methods to measure list diversity."""
    vectors = text_vectorizer().fit_transform(listing_text(listing) for listing in listings)
    return vectors.tocsr(), {listing["id"]: row for row, listing in enumerate(listings)}


def group_protocol(dataset: Dataset, groups: GroupSplit) -> dict:
    candidates = set(groups.candidate_ids)
    rankable = [len(candidates - task.known) for task in groups.tasks]
    return {
        "members_or_queries": len(groups.tasks),
        "catalogue": len(groups.listings),
        "candidates": len(candidates),
        "held_out": sum(len(task.truth) for task in groups.tasks),
        "training_interactions": len(groups.interactions),
        "rankable_per_task": spread(rankable),
        "share_of_tasks_with_at_most_10_rankable": share(n <= K_MAX for n in rankable),
        "truth_per_task": spread([len(task.truth) for task in groups.tasks]),
        "best_possible": best_possible(groups.tasks),
        "data": dataset.notes,
    }


def peer_protocol(peers: PeerSplit) -> dict:
    rankable = [len(peers.profiles) - len(task.known) - 1 for task in peers.tasks]
    return {
        "members": len(peers.tasks),
        "pool": len(peers.profiles),
        "rankable_per_task": spread(rankable),
        "truth_per_task": spread([len(task.truth) for task in peers.tasks]),
        "best_possible": best_possible(peers.tasks),
    }


def best_possible(tasks: list[Task]) -> dict[str, float]:
    """What a perfect ranker would score: recall@k cannot pass k / |truth|."""
    return {
        f"recall@{k}": float(np.mean([min(k, len(t.truth)) / len(t.truth) for t in tasks]))
        for k in KS
    } | {f"precision@{k}": float(np.mean([min(k, len(t.truth)) / k for t in tasks])) for k in KS}


def target_check(report: dict) -> dict:
    """Does the matcher beat the best baseline by TARGET_GAIN on each target metric, and can it?"""
    methods = report["methods"]
    ceiling = report["protocol"]["best_possible"]
    checks = {}
    for metric in TARGET_METRICS:
        baselines = {name: m[metric] for name, m in methods.items() if name in BASELINES}
        if not baselines:
            continue
        best_name = max(baselines, key=baselines.get)
        needed = baselines[best_name] * (1 + TARGET_GAIN)
        limit = ceiling.get(metric, 1.0)
        check = {
            "best_baseline": best_name,
            "best_baseline_value": round(baselines[best_name], 4),
            "needed": round(needed, 4),
            "best_possible": round(limit, 4),
            "reachable": needed <= limit + 1e-9,
        }
        if "matcher" in methods:
            value = methods["matcher"][metric]
            gain = value / baselines[best_name] - 1 if baselines[best_name] else math.inf
            check.update(matcher=round(value, 4), relative_gain=round(gain, 4), met=value >= needed)
        checks[metric] = check
    return checks


def spread(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "min": int(min(values)),
        "median": float(np.median(values)),
        "mean": round(float(np.mean(values)), 2),
        "max": int(max(values)),
    }


def standard_error(values: list[float]) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def share(flags: Iterable[bool]) -> float:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def params_from(texts: Iterable[str]) -> dict:
    """Hyperparameters from NAME=VALUE texts; VALUE is read as JSON when it parses (0.3, true)."""
    params = {}
    for text in texts:
        name, separator, value = text.partition("=")
        if not separator or not name.strip():
            raise ValueError(f"{text!r} is not NAME=VALUE")
        try:
            params[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[name.strip()] = value
    return params


# --- Output ------------------------------------------------------------------------------------


def summary_table(report: dict) -> dict:
    """The report with metric values rounded for printing."""
    return json.loads(
        json.dumps(report, default=str), parse_float=lambda text: round(float(text), 4)
    )


def write_report(report: dict, out_dir: Path | str) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{report['dataset']}.json"
    png_path = out / f"{report['dataset']}.png"
    json_path.write_text(json.dumps(summary_table(report), indent=2) + "\n")
    plot_report(report, png_path)
    return json_path, png_path


def plot_report(report: dict, path: Path | str) -> None:
    """Grouped bars: one group per metric, one bar per method; peers below groups if present."""
    import matplotlib

    # matplotlib announces building its font cache at INFO; the chart is what matters here.
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sections = [("groups", report["groups"])]
    if report.get("peers"):
        sections.append(("peers", report["peers"]))
    figure, axes = plt.subplots(len(sections), 1, figsize=(15, 4.5 * len(sections)), squeeze=False)
    for axis, (title, section) in zip(axes[:, 0], sections, strict=True):
        draw_bars(axis, section["methods"], f"{report['dataset']} - {title} ({report['split']})")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def draw_bars(axis, methods: dict, title: str) -> None:
    metrics = [name for name in CHART_METRICS if any(name in m for m in methods.values())]
    width = 0.8 / max(len(methods), 1)
    positions = np.arange(len(metrics))
    for index, (name, values) in enumerate(methods.items()):
        heights = [values.get(metric, 0.0) for metric in metrics]
        axis.bar(positions + index * width, heights, width, label=name)
    axis.set_xticks(positions + width * (len(methods) - 1) / 2, metrics, rotation=30, ha="right")
    axis.set_ylim(0, 1.05)
    axis.set_title(title)
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    axis.grid(axis="y", alpha=0.3)
