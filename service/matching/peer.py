"""PeerMatcher: member <-> member, only between people who both agreed to peer introductions.

A pair is scored in both directions, a -> b with a's travel radius and b -> a with b's, and the
two are combined by a harmonic mean: a pair is only as good as its weaker side, so both must
fit. Shared values weigh most, then shared interests, closeness and compatible comfort.
Pairs that declined or blocked each other never come back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import BallTree

from service.matching import features as f
from service.matching.group import POSITIVE_KINDS, fit_vectors, normalise_rows
from service.matching.reasons import join_words
from service.matching.suggestion import PeerSuggestion

UNKNOWN_PLACE = 0.5


@dataclass(frozen=True)
class Reach:
    """Who can meet face to face, and how far away each placed member is (km by index)."""

    reachable: np.ndarray
    km: dict[int, float]


def consents_to_peers(profile: dict) -> bool:
    consents = profile.get("consents") or {}
    return bool(consents.get("peer_introductions", profile.get("consent_peer_introductions")))


class PeerMatcher(BaseEstimator):
    def __init__(
        self,
        k: int = 3,
        values_weight: float = 0.4,
        interests_weight: float = 0.3,
        place_weight: float = 0.2,
        comfort_weight: float = 0.1,
        shared_groups_weight: float = 0.0,
        activity_weight: float = 0.0,
        max_radius_km: float = 50.0,
    ):
        self.k = k
        self.values_weight = values_weight
        self.interests_weight = interests_weight
        self.place_weight = place_weight
        self.comfort_weight = comfort_weight
        self.shared_groups_weight = shared_groups_weight
        self.activity_weight = activity_weight
        self.max_radius_km = max_radius_km

    def fit(self, profiles: list[dict], interactions=None, blocked_pairs=()) -> PeerMatcher:
        self.profiles_ = [dict(p) for p in profiles if consents_to_peers(p)]
        self.member_ids_ = np.array([p["id"] for p in self.profiles_], dtype=object)
        self.index_of_ = {member: i for i, member in enumerate(self.member_ids_)}
        self.values_vectorizer_ = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b")
        self.interests_vectorizer_ = TfidfVectorizer(stop_words="english", sublinear_tf=True)
        self.values_ = fit_vectors(
            self.values_vectorizer_, [f.profile_cause_text(p) for p in self.profiles_]
        )
        self.interests_ = fit_vectors(
            self.interests_vectorizer_, [f.profile_interest_text(p) for p in self.profiles_]
        )
        self.comfort_ = np.array([f.profile_comfort(p) for p in self.profiles_]).reshape(-1, 3)
        self.radius_ = np.array([float(p.get("travel_radius_km") or 5.0) for p in self.profiles_])
        self._fit_places()
        self.never_ = self._never_again(interactions or [], blocked_pairs)
        self._fit_groups(interactions or [])
        return self

    def _fit_groups(self, interactions) -> None:
        """Who goes to the same groups (cosine over joins), and how active each member is."""
        listings = sorted(
            {
                e["listing_id"]
                for e in interactions
                if "listing_id" in e and e.get("kind", "joined") in POSITIVE_KINDS
            },
            key=str,
        )
        column = {listing: c for c, listing in enumerate(listings)}
        cells = {
            (self.index_of_[e["member_id"]], column[e["listing_id"]])
            for e in interactions
            if e["member_id"] in self.index_of_ and e.get("listing_id") in column
        }
        rows, cols = zip(*cells, strict=True) if cells else ((), ())
        joined = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(self.profiles_), len(listings))
        )
        self.group_column_ = column
        self.groups_ = normalise_rows(joined)
        activity = np.log1p(np.asarray(joined.sum(axis=1)).ravel())
        top = activity.max() if len(activity) else 0.0
        self.activity_ = activity / top if top > 0 else activity

    def _fit_places(self) -> None:
        placed = [i for i, p in enumerate(self.profiles_) if f.has_place(p)]
        self.placed_index_ = np.array(placed, dtype=np.int64)
        coordinates = np.radians(
            [[self.profiles_[i]["lat"], self.profiles_[i]["lon"]] for i in placed]
        )
        self.ball_tree_ = BallTree(coordinates, metric="haversine") if placed else None

    @staticmethod
    def _never_again(interactions, blocked_pairs) -> set[frozenset]:
        pairs = {frozenset(pair) for pair in blocked_pairs}
        for event in interactions:
            if event.get("kind") in ("declined_peer", "blocked") and "peer_id" in event:
                pairs.add(frozenset((event["member_id"], event["peer_id"])))
        return pairs

    # ---------------------------------------------------------------- scoring

    def directional_scores(self, profile: dict) -> tuple[np.ndarray, np.ndarray]:
        """How well each fitted member suits `profile` (a -> b), and `profile` suits them."""
        values = self.values_vectorizer_.transform([f.profile_cause_text(profile)])
        interests = self.interests_vectorizer_.transform([f.profile_interest_text(profile)])
        shared_values = _column(self.values_ @ values.T) if profile.get("causes") else 0.0
        shared_interests = _column(self.interests_ @ interests.T)
        comfort = self._comfort_compatibility(profile)
        towards_them, towards_me, _ = self._closeness(profile)
        common = self.values_weight * shared_values + self.interests_weight * shared_interests
        common = common + self.comfort_weight * comfort + self._group_terms(profile)
        return common + self.place_weight * towards_them, common + self.place_weight * towards_me

    def _group_terms(self, profile: dict) -> np.ndarray:
        """Going to the same groups, and being active enough to meet (both are symmetric)."""
        terms = self.activity_weight * self.activity_
        row = self.index_of_.get(profile.get("id"))
        if row is not None and self.shared_groups_weight:
            terms = terms + self.shared_groups_weight * _column(self.groups_ @ self.groups_[row].T)
        mine = self.activity_[row] if row is not None else 0.0
        return terms + self.activity_weight * mine

    def _comfort_compatibility(self, profile: dict) -> np.ndarray:
        mine = f.profile_comfort(profile)
        return 1.0 - np.abs(self.comfort_ - mine).mean(axis=1) / 2.0

    def _closeness(self, profile: dict) -> tuple[np.ndarray, np.ndarray, Reach]:
        """Closeness within my radius (me -> them) and within each of theirs (them -> me)."""
        n = len(self.profiles_)
        mine = np.full(n, UNKNOWN_PLACE)
        theirs = np.full(n, UNKNOWN_PLACE)
        if not f.has_place(profile) or self.ball_tree_ is None:
            return mine, theirs, Reach(np.ones(n, dtype=bool), {})
        found, distance = self.ball_tree_.query_radius(
            np.radians([[profile["lat"], profile["lon"]]]),
            r=self.max_radius_km / f.EARTH_RADIUS_KM,
            return_distance=True,
        )
        who = self.placed_index_[found[0]]
        km = distance[0] * f.EARTH_RADIUS_KM
        my_radius = float(profile.get("travel_radius_km") or 5.0)
        placed = np.zeros(n, dtype=bool)
        placed[self.placed_index_] = True
        mine[placed], theirs[placed] = 0.0, 0.0  # placed but beyond the search: too far
        mine[who] = np.clip(1.0 - km / my_radius, 0.0, 1.0)
        theirs[who] = np.clip(1.0 - km / self.radius_[who], 0.0, 1.0)
        # Face to face first: a peer is only suggested if one of the two could travel to meet.
        reachable = ~placed
        reachable[who[km <= np.maximum(my_radius, self.radius_[who])]] = True
        return mine, theirs, Reach(reachable, dict(zip(who.tolist(), km.tolist(), strict=True)))

    def reciprocal_scores(self, profile: dict) -> np.ndarray:
        forward, backward = self.directional_scores(profile)
        total = forward + backward
        return np.where(total > 0, 2 * forward * backward / np.where(total > 0, total, 1), 0.0)

    # ---------------------------------------------------------------- recommending

    def recommend(self, profile: dict, k: int | None = None) -> list[PeerSuggestion]:
        k = k or self.k
        if not consents_to_peers(profile) or len(self.profiles_) == 0:
            return []
        scores = self.reciprocal_scores(profile)
        reach = self._closeness(profile)[2]
        me = profile.get("id")
        allowed = np.array(
            [
                other != me and frozenset((me, other)) not in self.never_
                for other in self.member_ids_
            ]
        )
        candidates = np.flatnonzero(allowed & reach.reachable & (scores > 0))
        ranked = candidates[np.argsort(-scores[candidates], kind="stable")[:k]]
        return [self._suggestion(profile, i, scores[i], reach.km.get(i)) for i in ranked]

    def _suggestion(self, profile: dict, index: int, score: float, km) -> PeerSuggestion:
        other = self.profiles_[index]
        reasons = []
        values = sorted(set(profile.get("causes") or []) & set(other.get("causes") or []))
        interests = sorted(set(profile.get("interests") or []) & set(other.get("interests") or []))
        if values:
            reasons.append(f"you both care about {join_words(values[:3])}")
        if interests:
            reasons.append(f"you both enjoy {join_words(interests[:3])}")
        if km is not None:
            # Rounded up to a band, so a suggestion never pinpoints where someone lives.
            reasons.append(f"lives within {max(2, int(np.ceil(km / 2) * 2))} km of you")
        return PeerSuggestion(
            member_id=other["id"],
            score=round(float(min(score, 1.0)), 4),
            reasons=reasons or ["a similar outlook to yours"],
        )


def _column(matrix) -> np.ndarray:
    if sp.issparse(matrix):
        matrix = matrix.toarray()
    return np.asarray(matrix, dtype=float).ravel()
