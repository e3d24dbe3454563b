"""Scoring one new listing against many members at once, without refitting the matcher.

A partner publishes a listing; the fan-out needs, within tens of milliseconds, the members it
fits. The members' side is prepared once (`MemberIndex`), then each new listing costs a sparse
product and a few vector operations over all members.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from service.matching import features as f
from service.matching.group import SIGNALS, combine, tfidf_rows
from service.matching.reasons import listing_reasons

ATTENDANCE = {"in_person": 0, "either": 1, "virtual": 2}


@dataclass
class MemberIndex:
    """The members' side of scoring, as matrices in the fitted matcher's vocabulary."""

    member_ids: np.ndarray
    interest: sp.csr_matrix
    causes: sp.csr_matrix
    has_causes: np.ndarray
    free: np.ndarray  # members x 21 parts of the week
    comfort: np.ndarray  # members x 3, already capped for "start slowly"
    start_slowly: np.ndarray
    lat: np.ndarray  # NaN when unknown
    lon: np.ndarray
    radius_km: np.ndarray
    attendance: np.ndarray


def index_members(matcher, profiles: list[dict]) -> MemberIndex:
    interest = tfidf_rows(
        matcher.interest_vectorizer_, [f.profile_interest_text(p) for p in profiles]
    )
    causes = tfidf_rows(matcher.cause_vectorizer_, [f.profile_cause_text(p) for p in profiles])
    steps = matcher.steps_
    return MemberIndex(
        member_ids=np.array([p["id"] for p in profiles], dtype=object),
        interest=interest.astype(np.float32).tocsr(),
        causes=causes.astype(np.float32).tocsr(),
        has_causes=np.array([bool(p.get("causes")) for p in profiles]),
        free=np.stack([f.slot_vector(p.get("availability") or []) for p in profiles]),
        comfort=np.stack([f.profile_comfort(p, int(steps.get(p["id"], 0))) for p in profiles]),
        start_slowly=np.array([bool(p.get("start_slowly")) for p in profiles]),
        lat=np.array([p["lat"] if f.has_place(p) else np.nan for p in profiles], dtype=float),
        lon=np.array([p["lon"] if f.has_place(p) else np.nan for p in profiles], dtype=float),
        radius_km=np.array([float(p.get("travel_radius_km") or 5.0) for p in profiles]),
        attendance=np.array([ATTENDANCE.get(p.get("attendance"), 0) for p in profiles]),
    )


def score_listing_for_members(matcher, listing: dict, members: MemberIndex) -> np.ndarray:
    """Each member's score for `listing`, 0 where the member may not be offered it."""
    interest = matcher.interest_vectorizer_.transform([f.listing_interest_text(listing)])
    causes = matcher.cause_vectorizer_.transform([f.listing_cause_text(listing)])
    interest_cosine = _column(members.interest @ interest.T.astype(np.float32))
    cause_cosine = _column(members.causes @ causes.T.astype(np.float32))
    content = np.where(
        members.has_causes, 0.5 * interest_cosine + 0.5 * cause_cosine, interest_cosine
    )
    place, reachable = _place(listing, members)
    popularity = _new_listing_popularity(matcher, listing)
    content = matcher.saturate(content)
    signals = np.stack(
        [
            content,
            content,  # nobody has joined it yet: what you like stands in for people like you
            np.full(len(content), popularity, dtype=np.float32),
            place,
            _time(listing, members),
            f.comfort_fit(f.listing_comfort(listing)[None, :], members.comfort, False),
        ],
        axis=1,
    )
    # "Start slowly" members weigh a step too far twice: recompute their comfort that way.
    gentle = f.comfort_fit(f.listing_comfort(listing)[None, :], members.comfort, True)
    signals[:, SIGNALS.index("comfort")] = np.where(
        members.start_slowly, gentle, signals[:, SIGNALS.index("comfort")]
    )
    score = combine(signals, matcher.weights_, members.start_slowly, 0.0, None)
    return np.where(reachable, score, 0.0)


def new_listing_reasons(matcher, listing: dict, profile: dict) -> list[str]:
    """The plain-words reasons one member gets for a listing scored by the fan-out: shared
    tags and causes, distance, the times that overlap and the comfort fit, from the same
    builder `recommend` uses."""
    levels = f.listing_comfort(listing)
    slow = bool(profile.get("start_slowly"))
    wanted = f.profile_comfort(profile, int(matcher.steps_.get(profile.get("id"), 0)))
    in_person = f.has_place(listing) and f.has_place(profile) and not listing.get("is_virtual")
    distance = (
        float(f.haversine_km(profile["lat"], profile["lon"], listing["lat"], listing["lon"]))
        if in_person
        else None
    )
    return listing_reasons(
        listing,
        shared_interest_tags=_shared(profile, listing, "interests"),
        mentioned_terms=[],
        shared_causes=_shared(profile, listing, "causes"),
        distance_km=distance,
        common_slots=sorted(set(profile.get("availability") or []) & f.listing_slots(listing)),
        comfort_levels=levels,
        comfort_fit=float(f.comfort_fit(levels, wanted, slow)),
        start_slowly=slow,
        similar_people_joined=False,  # nobody has joined a brand-new listing
    )


def _shared(profile: dict, listing: dict, field: str) -> list[str]:
    return sorted(set(profile.get(field) or []) & set(listing.get(field) or []))


def _place(listing: dict, members: MemberIndex) -> tuple[np.ndarray, np.ndarray]:
    n = len(members.member_ids)
    if listing.get("is_virtual"):
        place = np.where(members.attendance == ATTENDANCE["virtual"], 1.0, 0.6)
        return place.astype(np.float32), members.attendance != ATTENDANCE["in_person"]
    reachable = members.attendance != ATTENDANCE["virtual"]
    if not f.has_place(listing):
        return np.full(n, 0.5, dtype=np.float32), reachable
    km = f.haversine_km(members.lat, members.lon, listing["lat"], listing["lon"])
    known = ~np.isnan(km)
    within = known & (km <= members.radius_km)
    place = np.where(known, 1.0 - 0.5 * np.nan_to_num(km) / members.radius_km, 0.5)
    return place.astype(np.float32), reachable & (within | ~known)


def _time(listing: dict, members: MemberIndex) -> np.ndarray:
    meets = f.slot_vector(f.listing_slots(listing))
    if not meets.any():
        return np.full(len(members.member_ids), 0.7, dtype=np.float32)
    overlap = members.free @ meets / meets.sum()
    return np.where(members.free.any(axis=1), overlap, 0.5).astype(np.float32)


def _new_listing_popularity(matcher, listing: dict) -> float:
    prior = np.log1p(float(listing.get("popularity") or 0))
    top = np.log1p(matcher.join_counts_ + matcher.listing_prior_).max()
    return float(min(1.0, prior / top)) if top > 0 else 0.0


def _column(matrix) -> np.ndarray:
    if sp.issparse(matrix):
        matrix = matrix.toarray()
    return np.asarray(matrix, dtype=np.float32).ravel()
