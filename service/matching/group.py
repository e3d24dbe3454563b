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

import multiprocessing
import signal
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import BallTree

from service.matching import features as f
from service.matching.facts import ListingFacts
from service.matching.reasons import listing_reasons
from service.matching.suggestion import Suggestion

SIGNALS = ("content", "collaborative", "popularity", "place", "time", "comfort")
POSITIVE_KINDS = {"joined", "accepted", "attended"}
# Blocks this small (one member asking, a fan-out check) use the term-major copies.
SMALL_BLOCK = 8
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
        diversity: float = 0.1,
        small_org_boost: float = 0.0,
        neighbours: int = 50,
        learn_weights: str = "auto",
        min_feedback: int = 200,
        text_features: str = "word",
        candidates: int = 100,
        shortlist: int | None = 300,
        content_saturation: float = 0.3,
        item_similarity: str = "cosine",
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
        self.shortlist = shortlist
        self.content_saturation = content_saturation
        self.item_similarity = item_similarity
        self.random_state = random_state

    # ---------------------------------------------------------------- fitting

    def fit(self, listings: list[dict], interactions=None, profiles=None) -> GroupMatcher:
        """Learn the catalogue, and, when given, who joined what and who they are."""
        interactions = list(interactions or [])
        self.listing_ids_ = np.array([listing["id"] for listing in listings], dtype=object)
        if not listings:  # a new service with nothing posted yet: nothing to suggest
            return self
        self._fit_catalogue(listings)
        self._fit_interactions(interactions)
        self._fit_members(profiles or [])
        self.weights_ = self._default_weights()
        self.weights_learned_ = False
        if self.learn_weights != "off":
            self._fit_weights(interactions, profiles or [])
        return self

    def _fit_catalogue(self, listings: list[dict]) -> None:
        # Only what reasons quote is kept, as arrays: the dicts' text made models slow to load.
        self.listing_facts_ = ListingFacts.of(listings)
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
        self.listing_capacity_ = np.array([x.get("capacity") or np.inf for x in listings], float)
        self.interest_terms_ = self.interest_vectorizer_.get_feature_names_out()
        # Term-major copies: scoring one member reads only the rows of the terms it has.
        self.listing_interest_t_ = self.listing_interest_.T.tocsr()
        self.listing_cause_t_ = self.listing_cause_.T.tocsr()
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
        self.listing_lat_ = np.array([x["lat"] if f.has_place(x) else np.nan for x in listings])
        self.listing_lon_ = np.array([x["lon"] if f.has_place(x) else np.nan for x in listings])
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
        popularity = popularity / popularity.max() if popularity.max() > 0 else popularity
        # float32 like every other signal: one float64 array would upcast whole blocks.
        self.popularity_ = popularity.astype(np.float32)
        self.item_similarity_ = self._item_similarity(history, n)
        # Live and not full: the only listings ever offered.
        self._offerable_ = self.listing_live_ & (counts < self.listing_capacity_)

    def _item_similarity(self, history: dict, n: int) -> sp.csr_matrix:
        """How strongly joining one listing points to another (zero diagonal).

        "cosine" is symmetric; "conditional" is P(joined j | joined i), which keeps the pull
        of popular listings that people like you also join.
        """
        members = [m for m in history if len(history[m]) > 0]
        rows = [r for r, m in enumerate(members) for _ in history[m]]
        cols = [c for m in members for c in history[m]]
        joined = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(members), n)
        )
        counts = np.asarray(joined.sum(axis=0)).ravel()
        counts[counts == 0] = 1
        if self.item_similarity == "conditional":
            similarity = (sp.diags(1 / counts) @ (joined.T @ joined)).tocsr()
        else:
            scaled = joined @ sp.diags(1 / np.sqrt(counts))
            similarity = (scaled.T @ scaled).tocsr()
        similarity.setdiag(0)
        similarity.eliminate_zeros()
        return similarity.astype(np.float32)

    def _fit_members(self, profiles: list[dict]) -> None:
        """Members' interests, for "people with similar interests joined" (user neighbours)."""
        known = [p for p in profiles if p["id"] in self.history_]
        self.neighbour_ids_ = [p["id"] for p in known]
        self.neighbour_row_ = {member: row for row, member in enumerate(self.neighbour_ids_)}
        if not known:
            self.neighbour_interest_ = None
            self.neighbour_joined_ = sp.csr_matrix((0, len(self.listing_ids_)), dtype=np.float32)
            return
        self.neighbour_interest_ = self._profile_interest_matrix(self._texts(known))
        self.neighbour_interest_t_ = self.neighbour_interest_.T.tocsr()
        rows = [r for r, p in enumerate(known) for _ in self.history_[p["id"]]]
        cols = [c for p in known for c in self.history_[p["id"]]]
        shape = (len(known), len(self.listing_ids_))
        self.neighbour_joined_ = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=shape
        )

    def _texts(self, profiles: list[dict]) -> Texts:
        """Members' interest and cause vectors, computed once per block: every signal that
        reads a member's words uses these (each vectoriser call costs about a millisecond)."""
        return Texts(
            tfidf_rows(self.interest_vectorizer_, [f.profile_interest_text(p) for p in profiles]),
            tfidf_rows(self.cause_vectorizer_, [f.profile_cause_text(p) for p in profiles]),
            np.array([bool(p.get("causes")) for p in profiles]),
        )

    @staticmethod
    def _profile_interest_matrix(texts: Texts) -> sp.csr_matrix:
        """Interests and causes side by side, unit length: who is like whom."""
        return normalise_rows(sp.hstack([texts.interest, texts.causes]).tocsr())

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
        """For implicit data (joins only): listings a member did not join, as weak negatives.

        They are drawn from listings somebody joined, so the model learns what separates a
        member's choice from other real options, not merely "joined by anyone at all".
        """
        rng = np.random.default_rng(self.random_state)
        joined_by_someone = np.flatnonzero(self.join_counts_ > 0)
        pool = (
            joined_by_someone if len(joined_by_someone) > 1 else np.arange(len(self.listing_ids_))
        )
        negatives = []
        for event in positives:
            joined = set(self.history_.get(event["member_id"], []))
            for index in rng.choice(pool, size=3):
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
        block = self._block([profile], np.array([index]), leave_out=index)
        return np.array([block.signals[name][0, 0] for name in SIGNALS])

    # ---------------------------------------------------------------- scoring
    #
    # Everything is computed for a block: some members x some candidate listings. One member
    # is a block of one; re-matching a city is many blocks of nearby members, whose candidates
    # are the listings within their reach. One code path, so both give the same answers.

    def _block(self, profiles, pool: np.ndarray, leave_out=None, excluded=None) -> Block:
        """Signals for members x candidates, in two stages.

        First the cheap signals (content, collaborative, popularity) over the whole pool the
        block can reach, to keep each member's `shortlist` best; then the rest (place, time,
        comfort, eligibility) only for those. Picking from a shortlist costs far less than
        scoring every pair, and the same code serves one member or a city.
        """
        texts = self._texts(profiles)
        content = self._content_block(texts, pool)
        collaborative, cold_start = self._collaborative_block(profiles, texts, pool, leave_out)
        # With nobody to learn from, "people like you" can only mean "things like what you
        # said you like": the content signal stands in (popularity already has its own weight).
        collaborative[cold_start] = content[cold_start]
        keep = self._shortlist(profiles, pool, content, collaborative, excluded)
        candidates = pool[keep]
        place, eligible, distances = self._place_block(profiles, candidates)
        signals = {
            "content": np.take_along_axis(content, keep, axis=1),
            "collaborative": np.take_along_axis(collaborative, keep, axis=1),
            "popularity": self.popularity_[candidates].astype(np.float32),
            "place": place,
            "time": self._time_block(profiles, candidates),
            "comfort": self._comfort_block(profiles, candidates),
        }
        eligible &= self._offerable_[candidates]
        if excluded is not None:
            eligible &= ~np.take_along_axis(excluded, keep, axis=1)
        return Block(candidates, signals, eligible, distances, texts.interest, cold_start)

    def _shortlist(self, profiles, pool, content, collaborative, excluded) -> np.ndarray:
        """Positions in `pool` of each member's best listings by the cheap signals (rows)."""
        rows = len(profiles)
        if self.shortlist is None or len(pool) <= self.shortlist:
            return np.broadcast_to(np.arange(len(pool)), (rows, len(pool))).copy()
        w = dict(zip(SIGNALS, self.weights_, strict=True))
        rough = (
            w["content"] * content
            + w["collaborative"] * collaborative
            + w["popularity"] * self.popularity_[pool][None, :]
        )
        rough = np.where(self._roughly_reachable(profiles, pool), rough, -1.0)
        if excluded is not None:
            rough = np.where(excluded, -2.0, rough)
        return np.argpartition(-rough, self.shortlist - 1, axis=1)[:, : self.shortlist]

    def _roughly_reachable(self, profiles, pool) -> np.ndarray:
        """A bounding box around each member's travel circle, and the attendance rule: a
        cheap superset of who can reach what (the exact distance comes in stage two)."""
        lat, lon, radius, attendance = _places(profiles)
        virtual = self.listing_virtual_[pool][None, :]
        allowed = np.where(attendance[:, None] == "in_person", ~virtual, True)
        allowed &= np.where(attendance[:, None] == "virtual", virtual, True)
        dlat = np.degrees(radius / f.EARTH_RADIUS_KM)[:, None]
        dlon = dlat / np.maximum(np.cos(np.radians(np.nan_to_num(lat))), 0.01)[:, None]
        near = (np.abs(self.listing_lat_[pool][None, :] - lat[:, None]) <= dlat) & (
            np.abs(self.listing_lon_[pool][None, :] - lon[:, None]) <= dlon
        )
        unknown = np.isnan(lat)[:, None] | ~self.listing_has_place_[pool][None, :]
        return allowed & (near | unknown | virtual)

    def _content_block(self, texts: Texts, pool) -> np.ndarray:
        interest = texts.interest
        cosine = self._similarity(interest, self.listing_interest_, self.listing_interest_t_, pool)
        if texts.has_causes.any():
            cause_cosine = self._similarity(
                texts.causes, self.listing_cause_, self.listing_cause_t_, pool
            )
            # Causes and values count as much as hobbies.
            mixed = 0.5 * cosine + 0.5 * cause_cosine
            cosine = np.where(texts.has_causes[:, None], mixed, cosine)
        return self.saturate(cosine)

    @staticmethod
    def _similarity(members, listings, listings_t, pool) -> np.ndarray:
        """members x pool dot products. A few members read only their own terms' rows of the
        term-major copy (no large transpose per call); a big block slices the pool once."""
        if members.shape[0] <= SMALL_BLOCK:
            return (members @ listings_t).toarray()[:, pool]
        return (members @ listings[pool].T).toarray()

    def saturate(self, cosine: np.ndarray) -> np.ndarray:
        """A fixed, smooth scale for text similarity, the same for one member or a whole
        fan-out; it flattens near 1 but never ties, so strong matches stay ordered."""
        return (1.0 - np.exp(-cosine / self.content_saturation)).astype(np.float32)

    def _collaborative_block(self, profiles, texts: Texts, candidates, leave_out):
        """What people with a similar history, or similar interests, joined (row-scaled), and
        which members had nobody to learn from (popularity stands in for them)."""
        nothing = np.array([], dtype=np.int64)
        joined = [self.history_.get(p.get("id"), nothing) for p in profiles]
        if leave_out is not None:
            joined = [row[row != leave_out] for row in joined]
        pointer = np.concatenate([[0], np.cumsum([len(row) for row in joined])])
        history = sp.csr_matrix(
            (np.ones(pointer[-1], np.float32), np.concatenate([nothing, *joined]), pointer),
            shape=(len(profiles), len(self.listing_ids_)),
        )
        by_history = _row_scaled(history @ self.item_similarity_)
        by_people = _row_scaled(self._people_like(profiles, texts) @ self.neighbour_joined_)
        combined = _row_scaled(by_history + by_people)[:, candidates].toarray()
        cold = combined.max(axis=1) == 0  # nobody to learn from yet
        return combined.astype(np.float32), cold

    def _people_like(self, profiles: list[dict], texts: Texts) -> sp.csr_matrix:
        """Each member's most similar known members, as weights (members x neighbours)."""
        count = len(self.neighbour_ids_)
        if count == 0:
            return sp.csr_matrix((len(profiles), 0), dtype=np.float32)
        similarity = self._profile_interest_matrix(texts) @ self.neighbour_interest_t_
        similarity = similarity.toarray()
        for row, profile in enumerate(profiles):  # nobody is their own neighbour
            own = self.neighbour_row_.get(profile.get("id"))
            if own is not None:
                similarity[row, own] = 0.0
        keep = min(self.neighbours, count)
        top = np.argpartition(-similarity, keep - 1, axis=1)[:, :keep]
        rows = np.repeat(np.arange(len(profiles)), keep)
        weights = np.take_along_axis(similarity, top, axis=1).ravel()
        return sp.csr_matrix((weights, (rows, top.ravel())), shape=(len(profiles), count))

    def _place_block(self, profiles, candidates):
        """Closeness in [0, 1], and who may be offered what: in person within reach, virtual
        only for members who asked for it. `candidates` is members x listings."""
        lat, lon, radius, attendance = _places(profiles)
        virtual = self.listing_virtual_[candidates]
        eligible = np.where(attendance[:, None] == "in_person", ~virtual, True)
        eligible &= np.where(attendance[:, None] == "virtual", virtual, True)
        place = np.where(virtual, np.where(attendance[:, None] == "virtual", 1.0, 0.6), 0.5)
        km = f.haversine_km(
            lat[:, None], lon[:, None], self.listing_lat_[candidates], self.listing_lon_[candidates]
        )
        known = ~np.isnan(km) & ~virtual
        within = km <= radius[:, None]
        place = np.where(known, np.where(within, 1.0 - 0.5 * km / radius[:, None], 0.0), place)
        eligible &= ~known | within  # face to face, but only within the member's reach
        distances = np.where(known, km, np.nan)
        return place.astype(np.float32), eligible, distances.astype(np.float32)

    def _time_block(self, profiles, candidates) -> np.ndarray:
        free = np.stack([f.slot_vector(p.get("availability") or []) for p in profiles])
        slots = self.listing_slots_[candidates]  # members x listings x 21
        meets = slots.sum(axis=2)
        overlap = np.einsum("mcs,ms->mc", slots, free) / np.maximum(meets, 1)
        overlap = np.where(meets == 0, 0.7, overlap)  # no schedule: flexible times
        return np.where(free.any(axis=1)[:, None], overlap, 0.5).astype(np.float32)

    def _comfort_block(self, profiles, candidates) -> np.ndarray:
        wanted = np.stack(
            [f.profile_comfort(p, int(self.steps_.get(p.get("id"), 0))) for p in profiles]
        )
        slow = np.array([bool(p.get("start_slowly")) for p in profiles])
        levels = self.listing_comfort_[candidates]
        gentle = f.comfort_fit(levels, wanted[:, None, :], True)
        plain = f.comfort_fit(levels, wanted[:, None, :], False)
        return np.where(slow[:, None], gentle, plain).astype(np.float32)

    def _combined(self, block: Block, profiles: list[dict]) -> np.ndarray:
        matrix = np.stack([block.signals[name] for name in SIGNALS], axis=-1)
        slow = np.array([bool(p.get("start_slowly")) for p in profiles])[:, None]
        return combine(
            matrix,
            self.weights_,
            slow,
            self.small_org_boost,
            self.popularity_[block.candidates],
        )

    def score(self, profile: dict) -> np.ndarray:
        """Scores for every fitted listing (ineligible ones are 0), in `listing_ids_` order."""
        block = self._block([profile], np.arange(len(self.listing_ids_)))
        scores = np.zeros(len(self.listing_ids_))
        scores[block.candidates[0]] = np.where(
            block.eligible, self._combined(block, [profile]), 0.0
        )[0]
        return scores

    # ---------------------------------------------------------------- recommending

    def recommend(self, profile: dict, k: int | None = None, exclude_ids=()) -> list[Suggestion]:
        return self.recommend_batch([profile], k, exclude_ids={profile.get("id"): exclude_ids})[0]

    def recommend_batch(
        self,
        profiles: list[dict],
        k: int | None = None,
        exclude_ids=None,
        chunk_size: int = 256,
        n_jobs: int = 1,
        progress=None,
    ) -> list[list[Suggestion]]:
        """Suggestions for many members. Members are grouped by place, so each block's
        candidates are only the listings its members can reach. With `n_jobs` > 1 the blocks
        are shared among forked processes, which read this fitted model without copying it.
        `progress`, when given, is called with the number of members each finished block held.
        """
        k = k or self.k
        exclude_ids = exclude_ids or {}
        results: list[list[Suggestion]] = [[] for _ in profiles]
        if len(self.listing_ids_) == 0:
            return results
        chunks = _spatial_chunks(profiles, chunk_size)
        for chunk, answers in _map_blocks(self, profiles, chunks, k, exclude_ids, n_jobs):
            for position, suggestions in zip(chunk, answers, strict=True):
                results[position] = suggestions
            if progress is not None:
                progress(len(chunk))
        return results

    def _recommend_block(self, members: list[dict], k: int, exclude_ids: dict):
        """Each member's suggestions, for one block of nearby members."""
        pool = self._candidates(members)
        if len(pool) == 0:
            return [[] for _ in members]
        excluded = np.stack([np.isin(pool, self._excluded(m, exclude_ids)) for m in members])
        block = self._block(members, pool, excluded=excluded)
        score = np.where(block.eligible, self._combined(block, members), -1.0)
        return [self._pick(member, row, block, score[row], k) for row, member in enumerate(members)]

    def _candidates(self, members: list[dict]) -> np.ndarray:
        """Listings any member of the block could be offered: those within reach, plus
        listings with no place, plus virtual ones when someone asked for them."""
        if self.ball_tree_ is None or any(
            not f.has_place(m) or m.get("attendance") == "virtual" for m in members
        ):
            return np.flatnonzero(self._offerable_)
        coordinates = np.radians([[m["lat"], m["lon"]] for m in members])
        radii = np.array([float(m.get("travel_radius_km") or 5.0) for m in members])
        found = self.ball_tree_.query_radius(coordinates, r=radii / f.EARTH_RADIUS_KM)
        reachable = np.zeros(len(self.listing_ids_), dtype=bool)
        reachable[self.placed_index_[np.concatenate(found)]] = True
        reachable |= ~self.listing_has_place_ & ~self.listing_virtual_
        if any(m.get("attendance") == "either" for m in members):
            reachable |= self.listing_virtual_
        return np.flatnonzero(reachable & self._offerable_)

    def _excluded(self, member: dict, exclude_ids: dict) -> np.ndarray:
        member_id = member.get("id")
        given = [self.index_of_[x] for x in exclude_ids.get(member_id, ()) if x in self.index_of_]
        declined = self.declined_.get(member_id, np.array([], dtype=np.int64))
        return np.concatenate([np.array(given, dtype=np.int64), declined])

    def _pick(self, member, row, block: Block, score, k) -> list[Suggestion]:
        positions = np.flatnonzero(score >= 0)
        if len(positions) == 0:
            return []
        if len(positions) > self.candidates:
            top = np.argpartition(-score[positions], self.candidates - 1)[: self.candidates]
            positions = positions[top]
        # Best first; equal scores in catalogue order, however the shortlist was drawn.
        positions = positions[np.lexsort((block.candidates[row][positions], -score[positions]))]
        chosen = self._diverse(block.candidates[row], positions, score, k)
        member_vector = block.interest[row]
        return [self._suggestion(member, member_vector, row, block, p, score[p]) for p in chosen]

    def _diverse(self, candidates, ranked: np.ndarray, score: np.ndarray, k: int) -> list[int]:
        """Maximal marginal relevance: each pick trades relevance against likeness to picks."""
        if self.diversity <= 0 or len(ranked) <= 1:
            return list(ranked[:k])
        ranked = ranked[: max(4 * k, 20)]  # a pick from further down would not win anyway
        vectors = _dense_rows(self.listing_interest_, candidates[ranked])
        likeness = vectors @ vectors.T
        chosen = [0]
        while len(chosen) < min(k, len(ranked)):
            remaining = np.array([i for i in range(len(ranked)) if i not in chosen])
            redundancy = likeness[np.ix_(remaining, chosen)].max(axis=1)
            value = (1 - self.diversity) * score[ranked[remaining]] - self.diversity * redundancy
            chosen.append(int(remaining[int(np.argmax(value))]))
        return [int(ranked[i]) for i in chosen]

    def _suggestion(self, member, member_vector, row, block: Block, position, score):
        index = int(block.candidates[row, position])
        facts = self.listing_facts_
        distance = block.distances[row, position]
        signals = {name: float(block.signals[name][row, position]) for name in SIGNALS}
        shared_tags = sorted(set(member.get("interests") or []) & set(facts.interests(index)))
        listing_slots = {f.SLOTS[s] for s in np.flatnonzero(self.listing_slots_[index])}
        reasons = listing_reasons(
            {
                "is_virtual": bool(self.listing_virtual_[index]),
                "area": facts.area(index),
                "direction": "give" if facts.gives[index] else None,
            },
            shared_interest_tags=shared_tags,
            # The member's own words are only needed when no tag is shared.
            mentioned_terms=[] if shared_tags else self._shared_terms(member_vector, index),
            shared_causes=sorted(set(member.get("causes") or []) & set(facts.causes(index))),
            distance_km=None if np.isnan(distance) else float(distance),
            common_slots=sorted(set(member.get("availability") or []) & listing_slots),
            comfort_levels=self.listing_comfort_[index],
            comfort_fit=signals["comfort"],
            start_slowly=bool(member.get("start_slowly")),
            # Said only when the signal is strong and comes from real people's choices.
            similar_people_joined=not block.cold_start[row] and signals["collaborative"] >= 0.5,
        )
        return Suggestion(
            listing_id=self.listing_ids_[index],
            score=round(float(score), 4),
            reasons=reasons,
            signals={name: round(value, 4) for name, value in signals.items()},
        )

    def _shared_terms(self, member_vector, index: int) -> list[str]:
        """Words of the member's own that weigh most in this listing's text.

        Read straight from the CSR arrays: this runs for every suggestion of a city-wide
        re-match, where scipy's per-call overhead would cost more than the arithmetic.
        """
        listings = self.listing_interest_
        start, end = listings.indptr[index], listings.indptr[index + 1]
        shared, mine, theirs = np.intersect1d(
            member_vector.indices, listings.indices[start:end], return_indices=True
        )
        weight = member_vector.data[mine] * listings.data[start:end][theirs]
        words = [self.interest_terms_[t] for t in shared[np.argsort(-weight)]]
        return [w for w in words if not w.startswith("tag_")][:3]

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


def tfidf_rows(vectorizer: TfidfVectorizer, documents: list[str]) -> sp.csr_matrix:
    """`vectorizer.transform(documents)` in float32, from the vectorizer's own analyzer,
    vocabulary and idf, but without scikit-learn's input validation on every call, which
    took longer (about 1 ms) than the arithmetic for one member's few words. A test holds it
    equal to `transform`."""
    if vectorizer.norm != "l2" or not vectorizer.use_idf or vectorizer.binary:
        return vectorizer.transform(documents).astype(np.float32).tocsr()  # not our settings
    analyse, vocabulary, idf = vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_
    indptr, indices, counts = [0], [], []
    for document in documents:
        found = Counter(vocabulary[t] for t in analyse(document) if t in vocabulary)
        terms = sorted(found)
        indices.extend(terms)
        counts.extend(found[t] for t in terms)
        indptr.append(len(indices))
    data = np.asarray(counts, dtype=np.float64)
    if vectorizer.sublinear_tf:
        data = 1.0 + np.log(data)
    data = data * idf[np.asarray(indices, dtype=np.int64)]
    rows = np.repeat(np.arange(len(documents)), np.diff(indptr))
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=len(documents)))
    data = data / np.where(norms > 0, norms, 1.0)[rows]
    shape = (len(documents), len(idf))
    return sp.csr_matrix((data.astype(np.float32), indices, indptr), shape=shape)


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


@dataclass
class Texts:
    """Some members' words as TF-IDF rows in the fitted vocabularies."""

    interest: sp.csr_matrix
    causes: sp.csr_matrix
    has_causes: np.ndarray


@dataclass
class Block:
    """Signals for some members (rows) x some candidate listings (columns)."""

    candidates: np.ndarray
    signals: dict[str, np.ndarray]
    eligible: np.ndarray
    distances: np.ndarray
    interest: sp.csr_matrix
    cold_start: np.ndarray  # rows whose collaborative signal is popularity


def _row_scaled(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Divide each row by its maximum, so each member's best match of a signal is 1.

    Works on the CSR arrays directly (the values are never negative): scipy's general row
    maximum and diagonal product cost more than the arithmetic for one member."""
    matrix = sp.csr_matrix(matrix)
    counts = np.diff(matrix.indptr)
    top = np.ones(matrix.shape[0], dtype=np.float32)
    filled = counts > 0
    if matrix.nnz:
        top[filled] = np.maximum.reduceat(matrix.data, matrix.indptr[:-1][filled])
    top[top <= 0] = 1.0
    data = (matrix.data / np.repeat(top, counts)).astype(np.float32)
    return sp.csr_matrix((data, matrix.indices, matrix.indptr), shape=matrix.shape)


def _dense_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """A few CSR rows as a dense matrix over just the columns they use.

    For the handful of listings diversity compares, this is exact and far cheaper than
    scipy's general slicing and product."""
    starts, ends = matrix.indptr[rows], matrix.indptr[rows + 1]
    columns = np.concatenate([matrix.indices[a:b] for a, b in zip(starts, ends, strict=True)])
    values = np.concatenate([matrix.data[a:b] for a, b in zip(starts, ends, strict=True)])
    used, position = np.unique(columns, return_inverse=True)
    dense = np.zeros((len(rows), len(used)), dtype=np.float32)
    dense[np.repeat(np.arange(len(rows)), ends - starts), position] = values
    return dense


def _places(profiles: list[dict]):
    """Members' home coordinates (NaN when unknown or virtual-only), radius and attendance."""
    located = [f.has_place(p) and p.get("attendance") != "virtual" for p in profiles]
    lat = np.array([p["lat"] if ok else np.nan for p, ok in zip(profiles, located, strict=True)])
    lon = np.array([p["lon"] if ok else np.nan for p, ok in zip(profiles, located, strict=True)])
    radius = np.array([float(p.get("travel_radius_km") or 5.0) for p in profiles])
    attendance = np.array([p.get("attendance", "in_person") for p in profiles])
    return lat, lon, radius, attendance


# What forked block workers read: set just before the pool forks, so children inherit it.
_FORKED_WORK: tuple | None = None


def _map_blocks(matcher, profiles, chunks, k, exclude_ids, n_jobs):
    """(chunk, suggestions per member) for every chunk, in this process or in `n_jobs` forks."""
    global _FORKED_WORK
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if n_jobs <= 1 or len(chunks) <= 1 or not can_fork:
        for chunk in chunks:
            yield chunk, matcher._recommend_block([profiles[i] for i in chunk], k, exclude_ids)
        return
    _FORKED_WORK = (matcher, profiles, chunks, k, exclude_ids)
    try:
        processes = min(n_jobs, len(chunks))
        fork = multiprocessing.get_context("fork")
        with fork.Pool(processes, initializer=_default_signal_handling) as pool:
            for number, answers in pool.imap_unordered(_forked_block, range(len(chunks))):
                yield chunks[number], answers
    finally:
        _FORKED_WORK = None


def _default_signal_handling() -> None:
    """In each forked pool process: SIGTERM and SIGINT do what they do by default. A fork made
    inside an RQ worker inherits its warm-shutdown handler, which only notes the request; the
    pool's terminate() (SIGTERM) then never ends its idle processes, and the pool waits for
    ever (seen in the test suite after a test left RQ's handlers installed)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _forked_block(number: int):
    matcher, profiles, chunks, k, exclude_ids = _FORKED_WORK
    members = [profiles[i] for i in chunks[number]]
    return number, matcher._recommend_block(members, k, exclude_ids)


def _spatial_chunks(profiles: list[dict], size: int) -> list[np.ndarray]:
    """Positions of profiles in chunks of nearby members (by a ~5 km grid cell)."""

    def cell(p):
        if not f.has_place(p) or p.get("attendance") == "virtual":
            return (1, 0, 0)  # members without a place go together, last
        return (0, round(p["lat"] / 0.05), round(p["lon"] / 0.05))

    order = sorted(range(len(profiles)), key=lambda i: cell(profiles[i]))
    return [np.array(order[i : i + size]) for i in range(0, len(order), size)]


def normalise_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return (sp.diags(1 / norms) @ matrix).tocsr()
