"""The public fields of listings that reasons quote, kept as arrays.

A fitted matcher used to keep every listing dict for its reasons; unpickling 100,000 dicts of
text took most of a model's load time. Reasons need only a few short fields, so they are stored
column by column: tag names once, and per listing the codes of its tags, its area and direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ListingFacts:
    names: np.ndarray  # every interest, cause and area name, once (object array of str)
    interest_ptr: np.ndarray  # listing i's interests are names[interest_codes[ptr[i]:ptr[i+1]]]
    interest_codes: np.ndarray
    cause_ptr: np.ndarray
    cause_codes: np.ndarray
    area_code: np.ndarray  # -1 when the listing names no area
    gives: np.ndarray  # direction == "give": a chance to give one's time

    @classmethod
    def of(cls, listings: list[dict]) -> ListingFacts:
        code: dict[str, int] = {}

        def encode(words) -> list[int]:
            return [code.setdefault(str(word), len(code)) for word in words or []]

        interests = [encode(x.get("interests")) for x in listings]
        causes = [encode(x.get("causes")) for x in listings]
        areas = [encode([x["area"]])[0] if x.get("area") else -1 for x in listings]
        names = np.empty(len(code), dtype=object)
        names[:] = list(code)
        return cls(
            names,
            *_ragged(interests),
            *_ragged(causes),
            np.array(areas, dtype=np.int32),
            np.array([x.get("direction") == "give" for x in listings], dtype=bool),
        )

    def interests(self, index: int) -> list[str]:
        start, end = self.interest_ptr[index], self.interest_ptr[index + 1]
        return list(self.names[self.interest_codes[start:end]])

    def causes(self, index: int) -> list[str]:
        start, end = self.cause_ptr[index], self.cause_ptr[index + 1]
        return list(self.names[self.cause_codes[start:end]])

    def area(self, index: int) -> str | None:
        code = int(self.area_code[index])
        return None if code < 0 else str(self.names[code])


def _ragged(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Lists of codes as (offsets, flat codes), like a CSR matrix without values."""
    pointer = np.zeros(len(rows) + 1, dtype=np.int64)
    pointer[1:] = np.cumsum([len(row) for row in rows])
    flat = np.fromiter((c for row in rows for c in row), dtype=np.int32, count=int(pointer[-1]))
    return pointer, flat
