"""GroupMatcher: member -> a few listings, each with a score in [0, 1] and plain-words reasons.

Seven signals, each in [0, 1] for every listing, are combined by weights:

- content: TF-IDF similarity of the member's interests (and their own words) to the listing's
  title, description and tags, and of their causes to the listing's causes, counted equally;
- collaborative: what members with similar interests, or with a similar history, joined;
- popularity: how many people joined (log-scaled), with the listing's prior as a cold start;
- place: closeness within the member's travel radius (a haversine ball tree, not a loop);
- time: overlap of the member's free parts of the week with the listing's schedule;
- comfort: group size, structure and pace against what the member is ready for.

The weights start from sensible defaults; with enough yes/no feedback they are learned by a
logistic regression on the same signals. The top candidates are then re-ranked for variety
(maximal marginal relevance), so five suggestions are not five near-identical book clubs.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import BallTree

from service.matching import features as f
from service.matching.reasons import listing_reasons
from service.matching.suggestion import Suggestion

SIGNALS = ("content", "collaborative", "popularity", "place", "time", "comfort")
POSITIVE_KINDS = {"joined", "accepted", "attended"}
NEGATIVE_KINDS = {"declined"}
# Each acceptance moves a "start slowly" member half a step up, each attendance a whole step.
STEP_CREDIT = {"accepted": 0.5, "attended": 1.0}


class GroupMatcher(BaseEstimator):
    def __init__(
        self,
        k: int = 5,
        content_weight: float = 0.35,
        collaborative_weight: float = 0.2,
        popularity_weight: float = 0.1,
        place_weight: float = 0.15,
        time_weight: float = 0.1,
        comfort_weight: float = 0.1,
        diversity: float = 0.3,
        small_org_boost: float = 0.0,
        neighbours: int = 50,
        learn_weights: str = "auto",
        min_feedback: int = 200,
        text_features: str = "word",
        candidates: int = 100,
        content_saturation: float = 0.4,
        random_state: int = 0,
    ):
        self.k = k
        self.content_weight = content_weight
        self.collaborative_weight = collaborative_weight
        self.popularity_weight = popularity_weight
        self.place_weight = place_weight
        self.time_weight = time_weight
        self.comfort_weight = comfort_weight
        self.diversity = diversity
        self.small_org_boost = small_org_boost
        self.neighbours = neighbours
        self.learn_weights = learn_weights
        self.min_feedback = min_feedback
        self.text_features = text_features
        self.candidates = candidates
        self.content_saturation = content_saturation
        self.random_state = random_state

    # ---------------------------------------------------------------- fitting

    def fit(self, listings: list[dict], interactions=None, profiles=None) -> GroupMatcher:
        """Learn the catalogue, and, when given, who joined what and who they are."""
        interactions = list(interactions or [])
        self._fit_catalogue(listings)
        self._fit_interactions(interactions)
        self._fit_members(profiles or [])
        self.weights_ = self._default_weights()
        self.weights_learned_ = False
        if self.learn_weights != "off":
            self._fit_weights(interactions, profiles or [])
        return self

    def _fit_catalogue(self, listings: list[dict]) -> None:
        self.listings_ = [dict(listing) for listing in listings]
        self.listing_ids_ = np.array([listing["id"] for listing in listings], dtype=object)
        self.index_of_ = {listing_id: i for i, listing_id in enumerate(self.listing_ids_)}
        self.interest_vectorizer_ = self._vectorizer()
        self.listing_interest_ = fit_vectors(
            self.interest_vectorizer_, [f.listing_interest_text(listing) for listing in listings]
        )
        self.cause_vectorizer_ = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b", sublinear_tf=True)
        self.listing_cause_ = fit_vectors(
            self.cause_vectorizer_, [f.listing_cause_text(listing) for listing in listings]
        )
        self.listing_slots_ = np.stack([f.slot_vector(f.listing_slots(x)) for x in listings])
        self.listing_comfort_ = np.stack([f.listing_comfort(x) for x in listings])
        self.listing_virtual_ = np.array([bool(x.get("is_virtual")) for x in listings])
        self.listing_live_ = np.array([x.get("status", "active") == "active" for x in listings])
        self.listing_prior_ = np.array([float(x.get("popularity") or 0) for x in listings])
        self._fit_places(listings)

    def _vectorizer(self) -> TfidfVectorizer:
        if self.text_features == "char":
            return TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(3, 5),
                sublinear_tf=True,
                min_df=1,
                max_features=200_000,
            )
        return TfidfVectorizer(
            stop_words="english", sublinear_tf=True, min_df=1, token_pattern=r"(?u)\b\w[\w-]*\b"
        )

    def _fit_places(self, listings: list[dict]) -> None:
        placed = [i for i, x in enumerate(listings) if f.has_place(x) and not x.get("is_virtual")]
        self.placed_index_ = np.array(placed, dtype=np.int64)
        self.listing_has_place_ = np.zeros(len(listings), dtype=bool)
        self.listing_has_place_[placed] = True
        coordinates = np.radians([[listings[i]["lat"], listings[i]["lon"]] for i in placed])
        self.ball_tree_ = BallTree(coordinates, metric="haversine") if placed else None

    def _fit_interactions(self, interactions: list[dict]) -> None:
        n = len(self.listing_ids_)
        history, declined, steps = defaultdict(set), defaultdict(set), defaultdict(float)
        counts = np.zeros(n)
        for event in interactions:
            index = self.index_of_.get(event["listing_id"])
            if index is None:
                continue
            member, kind = event["member_id"], event.get("kind", "joined")
            if kind in POSITIVE_KINDS:
                if index not in history[member]:
                    counts[index] += 1
                history[member].add(index)
                steps[member] += STEP_CREDIT.get(kind, 0.0)
            elif kind in NEGATIVE_KINDS:
                declined[member].add(index)
        self.history_ = {m: np.array(sorted(v)) for m, v in history.items()}
        self.declined_ = {m: np.array(sorted(v)) for m, v in declined.items()}
        self.steps_ = dict(steps)
        self.join_counts_ = counts
        popularity = np.log1p(counts + self.listing_prior_)
        self.popularity_ = popularity / popularity.max() if popularity.max() > 0 else popularity
        self.item_similarity_ = self._item_similarity(history, n)

    @staticmethod
    def _item_similarity(history: dict, n: int) -> sp.csr_matrix:
        """Cosine similarity of listings by who joined them (zero diagonal)."""
        members = [m for m in history if len(history[m]) > 0]
        rows = [r for r, m in enumerate(members) for _ in history[m]]
        cols = [c for m in members for c in history[m]]
        joined = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(members), n)
        )
        norms = np.sqrt(np.asarray(joined.sum(axis=0)).ravel())
        norms[norms == 0] = 1
        scaled = joined @ sp.diags(1 / norms)
        similarity = (scaled.T @ scaled).tocsr()
        similarity.setdiag(0)
        similarity.eliminate_zeros()
        return similarity

    def _fit_members(self, profiles: list[dict]) -> None:
        """Members' interests, for "people with similar interests joined" (user neighbours)."""
        known = [p for p in profiles if p["id"] in self.history_]
        self.neighbour_ids_ = [p["id"] for p in known]
        if not known:
            self.neighbour_interest_ = None
            return
        self.neighbour_interest_ = self._profile_interest_matrix(known)
        rows = [r for r, p in enumerate(known) for _ in self.history_[p["id"]]]
        cols = [c for p in known for c in self.history_[p["id"]]]
        self.neighbour_joined_ = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(known), len(self.listings_))
        )

    def _profile_interest_matrix(self, profiles: list[dict]) -> sp.csr_matrix:
        interest = self.interest_vectorizer_.transform(
            [f.profile_interest_text(p) for p in profiles]
        )
        cause = self.cause_vectorizer_.transform([f.profile_cause_text(p) for p in profiles])
        return _normalise_rows(sp.hstack([interest, cause]).tocsr().astype(np.float32))

    def _default_weights(self) -> np.ndarray:
        weights = np.array(
            [
                self.content_weight,
                self.collaborative_weight,
                self.popularity_weight,
                self.place_weight,
                self.time_weight,
                self.comfort_weight,
            ],
            dtype=float,
        )
        return weights / weights.sum()

    def _fit_weights(self, interactions: list[dict], profiles: list[dict]) -> None:
        """Learn signal weights from yes/no answers once there are enough of them."""
        by_id = {p["id"]: p for p in profiles}
        labelled = [
            e
            for e in interactions
            if e["member_id"] in by_id
            and e["listing_id"] in self.index_of_
            and e.get("kind") in POSITIVE_KINDS | NEGATIVE_KINDS
        ]
        if self.learn_weights == "implicit":
            labelled += self._sampled_negatives(labelled)
        labels = np.array([e.get("kind") in POSITIVE_KINDS for e in labelled])
        if len(labelled) < self.min_feedback or labels.all() or not labels.any():
            return
        rows = np.array(
            [
                self._signal_row(by_id[e["member_id"]], self.index_of_[e["listing_id"]])
                for e in labelled
            ]
        )
        model = LogisticRegression(C=1.0, max_iter=1000).fit(rows, labels)
        learned = np.clip(model.coef_.ravel(), 0, None)
        if learned.sum() > 0:
            self.weights_ = learned / learned.sum()
            self.weights_learned_ = True

    def _sampled_negatives(self, positives: list[dict]) -> list[dict]:
        """For implicit data (joins only): listings a member did not join, as weak negatives."""
        rng = np.random.default_rng(self.random_state)
        negatives = []
        for event in positives:
            joined = set(self.history_.get(event["member_id"], []))
            for index in rng.integers(0, len(self.listing_ids_), size=3):
                if index not in joined:
                    negatives.append(
                        {
                            "member_id": event["member_id"],
                            "listing_id": self.listing_ids_[index],
                            "kind": "declined",
                        }
                    )
        return negatives

    def _signal_row(self, profile: dict, index: int) -> np.ndarray:
        # Leave-one-out: the member's own join of this listing must not explain itself.
        signals, _ = self._signals(profile, leave_out=index)
        return np.array([signals[name][index] for name in SIGNALS])

    # ---------------------------------------------------------------- scoring

    def _signals(self, profile: dict, leave_out: int | None = None):
        """Every signal for every listing, and which listings this member may be offered."""
        eligible = self.listing_live_.copy()
        place, distances = self._place_signal(profile, eligible)
        content, interest_vector = self._content_signal(profile)
        signals = {
            "content": content,
            "collaborative": self._collaborative_signal(profile, interest_vector, leave_out),
            "popularity": self.popularity_,
            "place": place,
            "time": self._time_signal(profile),
            "comfort": self._comfort_signal(profile),
        }
        return signals, {"eligible": eligible, "distances": distances}

    def _content_signal(self, profile: dict):
        interest = self.interest_vectorizer_.transform([f.profile_interest_text(profile)])
        similarity = _as_array(self.listing_interest_ @ interest.T.astype(np.float32))
        if profile.get("causes"):
            causes = self.cause_vectorizer_.transform([f.profile_cause_text(profile)])
            cause_similarity = _as_array(self.listing_cause_ @ causes.T.astype(np.float32))
            # Causes and values count as much as hobbies.
            similarity = 0.5 * similarity + 0.5 * cause_similarity
        return self.saturate(similarity), interest

    def saturate(self, cosine: np.ndarray) -> np.ndarray:
        """A fixed scale for text similarity: the same for one member or a whole fan-out."""
        return np.minimum(1.0, cosine / self.content_saturation).astype(np.float32)

    def _collaborative_signal(self, profile: dict, interest_vector, leave_out: int | None):
        member = profile.get("id")
        history = self.history_.get(member, np.array([], dtype=np.int64))
        if leave_out is not None:
            history = history[history != leave_out]
        by_history = np.zeros(len(self.listing_ids_), dtype=np.float32)
        if len(history):
            by_history = _as_array(self.item_similarity_[history].sum(axis=0))
        by_people = self._similar_people_joined(profile, member, leave_out)
        combined = _scaled(by_history) + _scaled(by_people)
        if combined.max() == 0:  # cold start: nobody to learn from yet
            return self.popularity_
        return _scaled(combined)

    def _similar_people_joined(self, profile: dict, member, leave_out) -> np.ndarray:
        if self.neighbour_interest_ is None:
            return np.zeros(len(self.listing_ids_), dtype=np.float32)
        me = self._profile_interest_matrix([profile])
        similarity = _as_array(self.neighbour_interest_ @ me.T)
        if member in self.neighbour_ids_:
            similarity[self.neighbour_ids_.index(member)] = 0  # not my own neighbour
        top = np.argpartition(-similarity, min(self.neighbours, len(similarity) - 1))
        top = top[: self.neighbours]
        weights = similarity[top]
        return _as_array(self.neighbour_joined_[top].T @ weights)

    def _place_signal(self, profile: dict, eligible: np.ndarray):
        """Closeness in [0, 1], and eligibility: in person within reach, virtual only if asked."""
        n = len(self.listing_ids_)
        place = np.full(n, 0.5, dtype=np.float32)
        distances = np.full(n, np.nan)
        attendance = profile.get("attendance", "in_person")
        if attendance == "in_person":
            eligible &= ~self.listing_virtual_
        elif attendance == "virtual":
            eligible &= self.listing_virtual_
        place[self.listing_virtual_] = 1.0 if attendance == "virtual" else 0.6
        if f.has_place(profile) and self.ball_tree_ is not None and attendance != "virtual":
            radius = float(profile.get("travel_radius_km") or 5.0)
            found, found_distance = self.ball_tree_.query_radius(
                np.radians([[profile["lat"], profile["lon"]]]),
                r=radius / f.EARTH_RADIUS_KM,
                return_distance=True,
            )
            within = self.placed_index_[found[0]]
            kilometres = found_distance[0] * f.EARTH_RADIUS_KM
            reachable = np.zeros(n, dtype=bool)
            reachable[within] = True
            # Face-to-face first, but only within the member's reach.
            eligible &= reachable | ~self.listing_has_place_
            distances[within] = kilometres
            place[within] = 1.0 - 0.5 * kilometres / radius
        return place, distances

    def _time_signal(self, profile: dict) -> np.ndarray:
        free = f.slot_vector(profile.get("availability") or [])
        if not free.any():
            return np.full(len(self.listing_ids_), 0.5, dtype=np.float32)
        meets = self.listing_slots_.sum(axis=1)
        overlap = (self.listing_slots_ @ free) / np.maximum(meets, 1)
        return np.where(meets == 0, 0.7, overlap).astype(np.float32)  # no schedule: flexible

    def _comfort_signal(self, profile: dict) -> np.ndarray:
        step = int(self.steps_.get(profile.get("id"), 0.0))
        wanted = f.profile_comfort(profile, step)
        return f.comfort_fit(self.listing_comfort_, wanted, bool(profile.get("start_slowly")))

    def _combined(self, signals: dict, start_slowly: bool = False) -> np.ndarray:
        matrix = np.stack([signals[name] for name in SIGNALS], axis=-1)
        return combine(matrix, self.weights_, start_slowly, self.small_org_boost, self.popularity_)

    def score(self, profile: dict) -> np.ndarray:
        """Scores for every fitted listing (ineligible ones are 0), in `listing_ids_` order."""
        signals, context = self._signals(profile)
        combined = self._combined(signals, bool(profile.get("start_slowly")))
        return np.where(context["eligible"], combined, 0.0)

    # ---------------------------------------------------------------- recommending

    def recommend(self, profile: dict, k: int | None = None, exclude_ids=()) -> list[Suggestion]:
        k = k or self.k
        signals, context = self._signals(profile)
        score = self._combined(signals, bool(profile.get("start_slowly")))
        eligible = context["eligible"] & self._not_excluded(profile, exclude_ids)
        candidates = np.flatnonzero(eligible)
        if len(candidates) == 0:
            return []
        top = candidates[np.argsort(-score[candidates], kind="stable")[: self.candidates]]
        chosen = self._diverse(top, score, k)
        return [self._suggestion(profile, i, score[i], signals, context) for i in chosen]

    def _not_excluded(self, profile: dict, exclude_ids) -> np.ndarray:
        keep = np.ones(len(self.listing_ids_), dtype=bool)
        for listing_id in exclude_ids:
            if listing_id in self.index_of_:
                keep[self.index_of_[listing_id]] = False
        keep[self.declined_.get(profile.get("id"), np.array([], dtype=np.int64))] = False
        capacity = np.array([x.get("capacity") or np.inf for x in self.listings_])
        keep &= self.join_counts_ < capacity  # full listings are never offered
        return keep

    def _diverse(self, ranked: np.ndarray, score: np.ndarray, k: int) -> list[int]:
        """Maximal marginal relevance: each pick trades relevance against likeness to picks."""
        if self.diversity <= 0 or len(ranked) <= 1:
            return list(ranked[:k])
        vectors = self.listing_interest_[ranked]
        likeness = (vectors @ vectors.T).toarray()
        chosen = [0]
        while len(chosen) < min(k, len(ranked)):
            remaining = [i for i in range(len(ranked)) if i not in chosen]
            redundancy = likeness[np.ix_(remaining, chosen)].max(axis=1)
            value = (1 - self.diversity) * score[ranked[remaining]] - self.diversity * redundancy
            chosen.append(remaining[int(np.argmax(value))])
        return [int(ranked[i]) for i in chosen]

    def _suggestion(self, profile, index, score, signals, context) -> Suggestion:
        listing = self.listings_[index]
        distance = context["distances"][index]
        member_interests = set(profile.get("interests") or [])
        member_causes = set(profile.get("causes") or [])
        start_slowly = bool(profile.get("start_slowly"))
        reasons = listing_reasons(
            listing,
            shared_interest_tags=sorted(member_interests & set(listing.get("interests") or [])),
            mentioned_terms=self._shared_terms(profile, index),
            shared_causes=sorted(member_causes & set(listing.get("causes") or [])),
            distance_km=None if np.isnan(distance) else float(distance),
            common_slots=sorted(set(profile.get("availability") or []) & f.listing_slots(listing)),
            comfort_levels=self.listing_comfort_[index],
            comfort_fit=float(signals["comfort"][index]),
            start_slowly=start_slowly,
            similar_people_joined=self._people_like_you_joined(signals, index),
        )
        return Suggestion(
            listing_id=listing["id"],
            score=round(float(score), 4),
            reasons=reasons,
            signals={name: round(float(signals[name][index]), 4) for name in SIGNALS},
        )

    def _shared_terms(self, profile: dict, index: int) -> list[str]:
        """Words of the member's own that weigh most in this listing's text."""
        mine = self.interest_vectorizer_.transform([f.profile_interest_text(profile)])
        overlap = mine.multiply(self.listing_interest_[index]).tocoo()
        names = self.interest_vectorizer_.get_feature_names_out()
        ranked = sorted(zip(overlap.data, overlap.col, strict=True), reverse=True)
        return [names[c] for _, c in ranked if not names[c].startswith("tag_")][:3]

    def _people_like_you_joined(self, signals: dict, index: int) -> bool:
        """Said only when the collaborative signal is strong and comes from real people."""
        learned_from_people = bool(self.history_)
        return learned_from_people and signals["collaborative"][index] >= 0.5

    # ---------------------------------------------------------------- incremental

    def index_members(self, profiles: list[dict]):
        """The members' side of scoring, prepared once for many `score_new_listing` calls."""
        from service.matching.incremental import index_members

        return index_members(self, profiles)

    def score_new_listing(self, listing: dict, member_index) -> np.ndarray:
        """Score one listing against many members without refitting (for the fan-out)."""
        from service.matching.incremental import score_listing_for_members

        return score_listing_for_members(self, listing, member_index)

    def needs_refit(self, current_listing_ids, threshold: float = 0.1) -> bool:
        """True when enough of the catalogue is new or gone that a background refit is due."""
        current = set(current_listing_ids)
        fitted = set(self.index_of_)
        changed = len(current - fitted) + len(fitted - current)
        return changed > threshold * max(len(fitted), 1)


def fit_vectors(vectorizer: TfidfVectorizer, documents: list[str]) -> sp.csr_matrix:
    """Fit and transform; a sentinel document keeps the vocabulary non-empty when every
    document is blank or only stop words (a brand-new catalogue can be like that)."""
    vectorizer.fit([*documents, "kindredsentinel"])
    if not documents:
        return sp.csr_matrix((0, len(vectorizer.vocabulary_)), dtype=np.float32)
    return vectorizer.transform(documents).astype(np.float32).tocsr()


def combine(
    signals: np.ndarray,
    weights: np.ndarray,
    start_slowly,
    small_org_boost: float,
    popularity: np.ndarray,
) -> np.ndarray:
    """Weighted signals -> a score in [0, 1] (last axis of `signals` is the signal).

    For a member starting slowly the comfort fit also gates the score (a listing beyond what
    they are ready for keeps at most half its score), so small, structured, low-key listings come
    first and bigger ones follow as the member steps up.
    """
    score = signals @ weights
    comfort = signals[..., SIGNALS.index("comfort")]
    score = np.where(start_slowly, score * (0.5 + 0.5 * comfort), score)
    if small_org_boost and popularity is not None:
        score = (score + small_org_boost * (1.0 - popularity)) / (1.0 + small_org_boost)
    return np.clip(score, 0.0, 1.0)


def _as_array(matrix) -> np.ndarray:
    if sp.issparse(matrix):
        matrix = matrix.toarray()
    return np.asarray(matrix, dtype=np.float32).ravel()


def _scaled(values: np.ndarray) -> np.ndarray:
    """Divide by the maximum so the best match of each signal is 1 for this member."""
    top = values.max() if len(values) else 0
    return values / top if top > 0 else values


def _normalise_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return (sp.diags(1 / norms) @ matrix).tocsr()
