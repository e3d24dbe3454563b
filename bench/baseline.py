"""Bare numpy/scipy brute force over the matcher's own TF-IDF vectors: the yardstick each
benchmark divides by. It scores content only (interests and causes, weighted as the matcher does)
and picks the top k with argpartition, so the ratio shows what the matcher's other signals,
eligibility rules, diversity and reasons cost on top of the unavoidable arithmetic.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from service.matching import features as f


@dataclass
class Vectors:
    """Rows of TF-IDF in the fitted vocabularies; `has_causes` mirrors the matcher's 50/50 mix."""

    interest: sp.csr_matrix
    causes: sp.csr_matrix
    has_causes: np.ndarray


def listing_vectors(matcher) -> Vectors:
    causes = matcher.listing_cause_
    return Vectors(matcher.listing_interest_, causes, np.diff(causes.indptr) > 0)


def member_vectors(matcher, profiles: list[dict]) -> Vectors:
    interest = matcher.interest_vectorizer_.transform(
        [f.profile_interest_text(p) for p in profiles]
    )
    causes = matcher.cause_vectorizer_.transform([f.profile_cause_text(p) for p in profiles])
    return Vectors(
        interest.astype(np.float32).tocsr(),
        causes.astype(np.float32).tocsr(),
        np.array([bool(p.get("causes")) for p in profiles]),
    )


def transposed(vectors: Vectors) -> Vectors:
    """Term-major copies (an inverted index): a short query then touches only its own terms."""
    return Vectors(vectors.interest.T.tocsr(), vectors.causes.T.tocsr(), vectors.has_causes)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best along the last axis, best first."""
    k = min(k, scores.shape[-1])
    part = np.argpartition(-scores, k - 1, axis=-1)[..., :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=-1), axis=-1)
    return np.take_along_axis(part, order, axis=-1)


def dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


def one_member_row_major(listings: Vectors, members: Vectors, row: int, k: int = 5) -> np.ndarray:
    """listing matrix @ member vector, as written in the issue: a pass over every listing."""
    scores = dense(listings.interest @ members.interest[row].T).ravel()
    if members.has_causes[row]:
        scores = 0.5 * scores + 0.5 * dense(listings.causes @ members.causes[row].T).ravel()
    return top_k(scores, k)


def one_member_term_major(by_term: Vectors, members: Vectors, row: int, k: int = 5) -> np.ndarray:
    """member vector @ term-major listings: the fastest bare form for one short query."""
    scores = dense(members.interest[row] @ by_term.interest).ravel()
    if members.has_causes[row]:
        scores = 0.5 * scores + 0.5 * dense(members.causes[row] @ by_term.causes).ravel()
    return top_k(scores, k)


def chunk_top_k(by_term: Vectors, members: Vectors, rows: slice, k: int) -> np.ndarray:
    scores = dense(members.interest[rows] @ by_term.interest)
    causes = dense(members.causes[rows] @ by_term.causes)
    mix = members.has_causes[rows, None]
    scores = np.where(mix, 0.5 * scores + 0.5 * causes, scores)
    return top_k(scores, k)


def all_members(by_term: Vectors, members: Vectors, k=5, chunk=500, threads=2, progress=None):
    """Top k for every member in chunks (a dense chunk x listings block at a time). scipy's sparse
    products and numpy's partition release the GIL, so threads use both cores."""
    n = members.interest.shape[0]
    chunks = [slice(start, min(n, start + chunk)) for start in range(0, n, chunk)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = []
        for block in pool.map(lambda rows: chunk_top_k(by_term, members, rows, k), chunks):
            results.append(block)
            if progress is not None:
                progress.update(len(block))
    return np.vstack(results)


def new_listing_row_major(members: Vectors, listing_interest, listing_causes) -> np.ndarray:
    """Every member's content score for one listing: member matrix @ listing vector."""
    interest = dense(members.interest @ listing_interest.T).ravel()
    causes = dense(members.causes @ listing_causes.T).ravel()
    return np.where(members.has_causes, 0.5 * interest + 0.5 * causes, interest)


def new_listing_term_major(by_term: Vectors, listing_interest, listing_causes) -> np.ndarray:
    """The same scores from members stored term by term: only the listing's terms are read."""
    interest = dense(listing_interest @ by_term.interest).ravel()
    causes = dense(listing_causes @ by_term.causes).ravel()
    return np.where(by_term.has_causes, 0.5 * interest + 0.5 * causes, interest)
