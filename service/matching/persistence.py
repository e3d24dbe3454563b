"""Saving and loading fitted matchers, with a format version so a stale file is refused.

A file holds two pickles: a small header (format and scikit-learn version), then the matcher.
The header is read first, so a file from other code is refused before its objects are built.
Plain pickle (protocol 5) loads a 100k-listing model several times faster than joblib's
unpickler. Like any pickle, a model file must come from kindred itself, never from a user.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import sklearn

# Bump when a fitted matcher's learned attributes change shape or meaning.
# 2: listing dicts replaced by ListingFacts; plain pickle with a header.
MODEL_FORMAT = 2


class IncompatibleModel(Exception):
    """The file was written by another model format or scikit-learn version: refit instead."""


def _header() -> dict:
    return {"format": MODEL_FORMAT, "sklearn": sklearn.__version__}


def save(matcher, path: Path, temporary_suffix: str = ".tmp") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + temporary_suffix)
    # Owner-only from its first byte: a fitted model holds what the matchers read of profiles.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        pickle.dump(_header(), handle, protocol=5)
        pickle.dump(matcher, handle, protocol=5)
    temporary.replace(path)  # readers never see a half-written model
    return path


def load(path: Path):
    with Path(path).open("rb") as handle:
        try:
            header = pickle.load(handle)
        except (pickle.UnpicklingError, EOFError, ValueError) as error:
            raise IncompatibleModel(f"{path} is not a kindred model file: {error}") from error
        if not isinstance(header, dict) or header != _header():
            found = header if isinstance(header, dict) else {}
            raise IncompatibleModel(
                f"model format {found.get('format')} / scikit-learn {found.get('sklearn')}; "
                f"this code reads format {MODEL_FORMAT} / scikit-learn {sklearn.__version__}"
            )
        return pickle.load(handle)
