"""Saving and loading fitted matchers, with a format version so a stale file is refused."""

from __future__ import annotations

from pathlib import Path

import joblib
import sklearn

# Bump when a fitted matcher's learned attributes change shape or meaning.
MODEL_FORMAT = 1


class IncompatibleModel(Exception):
    """The file was written by another model format or scikit-learn version: refit instead."""


def save(matcher, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": MODEL_FORMAT, "sklearn": sklearn.__version__, "matcher": matcher}
    temporary = path.with_suffix(path.suffix + ".tmp")
    joblib.dump(payload, temporary, compress=0)
    temporary.replace(path)  # readers never see a half-written model
    return path


def load(path: Path):
    payload = joblib.load(Path(path))
    if payload.get("format") != MODEL_FORMAT or payload.get("sklearn") != sklearn.__version__:
        raise IncompatibleModel(
            f"model format {payload.get('format')} / scikit-learn {payload.get('sklearn')}; "
            f"this code reads format {MODEL_FORMAT} / scikit-learn {sklearn.__version__}"
        )
    return payload["matcher"]
