"""Fitted matchers shared by every worker: one fits, the others load what it saved.

Without this, every worker process refits its own copy whenever the data changed: at 100,000
members that is 12-18 s of CPU per worker per change (docs/scaling.md), and adding workers adds
refits rather than capacity. Here a model is a file named by the fingerprint of the data it was
fitted on, `<model dir>/<region>/<fingerprint hash>.pkl`, and fitting takes a Redis lock per
region. The worker that wins fits and saves (atomically: `persistence.save` renames into place);
the others keep answering from the model they hold meanwhile, and load the file when it is
there (well under a second where a fit takes many).

Workers share models when they share the folder (one machine, or a volume mounted on many). The
lock's name carries the folder's own id, a random one written in it on first use, so workers on
machines with separate folders never wait on each other's fits.

Redis being away is never a reason to fail a job: the worker then fits on its own, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import threading
from pathlib import Path

import redis

from service.matching import persistence

log = logging.getLogger(__name__)

# A fit holds its lock this long unless renewed; the holder renews it every third of that, so a
# fitter killed mid-fit frees the region for another within LOCK_SECONDS.
LOCK_SECONDS = 30
# Only the newest model of a region is kept: older ones may hold members erased since. A worker
# that was about to load one that goes finds no file, and loads or fits the newest instead.
KEEP_PER_REGION = 1
ALL_REGIONS = "all"  # the folder for the one model of a deployment without regions


def fingerprint_name(fingerprint: tuple) -> str:
    """A file name for a fingerprint: the same data gives the same name in every process."""
    return hashlib.sha256(repr(fingerprint).encode()).hexdigest()[:32]


class ModelStore:
    def __init__(self, folder: Path, connection: redis.Redis | None):
        self.folder = Path(folder)
        self._redis = connection

    def path(self, region: str | None, fingerprint: tuple) -> Path:
        return self.folder / (region or ALL_REGIONS) / f"{fingerprint_name(fingerprint)}.pkl"

    def load(self, region: str | None, fingerprint: tuple):
        """The fitted matchers saved for this fingerprint, or None (none saved, or unreadable:
        another format or library version, a truncated file)."""
        path = self.path(region, fingerprint)
        return self.load_file(path) if path.exists() else None

    def latest(self, region: str | None) -> Path | None:
        """The region's newest model file, whatever data it was fitted on (only the newest is
        kept, so it is the last fit saved)."""
        models = list((self.folder / (region or ALL_REGIONS)).glob("*.pkl"))
        return max(models, key=_modified) if models else None

    def load_file(self, path: Path):
        """The fitted matchers in `path`, or None (pruned meanwhile, or unreadable)."""
        try:
            return persistence.load(path)
        except FileNotFoundError:
            return None
        except Exception as error:  # an unreadable model is refitted, never fatal
            log.warning("model %s not loaded: %s", path.name, error)
            return None

    def save(self, region: str | None, fingerprint: tuple, fitted) -> Path:
        path = self.path(region, fingerprint)
        # Each writer has its own temporary file (not named by pid: in containers every worker
        # is pid 1): two fitters of one fingerprint (Redis away) never write into the same one.
        persistence.save(fitted, path, temporary_suffix=f".{secrets.token_hex(6)}.tmp")
        self._prune(path)
        return path

    def remove_all_except(self, kept: set[Path]) -> int:
        """Delete every model file but `kept`, in every region's folder (an erasure: any older
        file, of any region or of a configuration since changed, may hold the member)."""
        removed = 0
        for path in self.folder.glob("*/*.pkl"):
            if path not in kept:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed

    def fitting_lock(self, region: str | None) -> FitLock | None:
        """The region's fit lock if this process takes it now; None if another holds it.
        Without Redis, a lock nobody else can see: the caller fits, as a lone worker would."""
        if self._redis is None:
            return FitLock(None)
        name = f"kindred:fit:{self._folder_id()}:{region or ALL_REGIONS}"
        # thread_local=False: the renewing thread must be able to extend the token.
        lock = self._redis.lock(name, timeout=LOCK_SECONDS, blocking=False, thread_local=False)
        try:
            taken = lock.acquire()
        except redis.RedisError as error:
            log.warning("fit lock unavailable, fitting alone: %s", type(error).__name__)
            return FitLock(None)
        return FitLock(lock) if taken else None

    def _folder_id(self) -> str:
        """The folder's id, made once by whichever process needs it first."""
        marker = self.folder / ".store-id"
        with contextlib.suppress(FileNotFoundError):
            return marker.read_text().strip()
        self.folder.mkdir(parents=True, exist_ok=True)
        candidate = self.folder / f".store-id.{secrets.token_hex(6)}.tmp"
        candidate.write_text(secrets.token_hex(8))
        with contextlib.suppress(FileExistsError):
            os.link(candidate, marker)  # the first to link wins; the others read its id
        candidate.unlink()
        return marker.read_text().strip()

    @staticmethod
    def _prune(newest: Path) -> None:
        others = [path for path in newest.parent.glob("*.pkl") if path != newest]
        for old in sorted(others, key=_modified, reverse=True)[KEEP_PER_REGION - 1 :]:
            with contextlib.suppress(FileNotFoundError):  # another worker pruned it
                old.unlink()


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


class FitLock:
    """Held while this process fits; renewed from a thread so a long fit keeps it, released
    when the fit is saved. Wraps no lock at all when Redis is unavailable."""

    def __init__(self, lock):
        self._lock = lock
        self._done = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name="fit-lock", daemon=True)

    def __enter__(self) -> FitLock:
        if self._lock is not None:
            self._renewer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._lock is None:
            return
        self._done.set()
        self._renewer.join()
        with contextlib.suppress(redis.RedisError):  # expired or Redis away: it lapses alone
            self._lock.release()

    def still_held(self) -> bool:
        """Whether this fit still owns the lock. One that lost it (its lease lapsed while Redis
        was away) must not save: another fitter may have saved newer data since, and saving
        would prune that file (possibly the refit after an erasure)."""
        if self._lock is None:
            return True
        try:
            return self._lock.owned()
        except redis.RedisError:
            return False

    def _renew(self) -> None:
        while not self._done.wait(LOCK_SECONDS / 3):
            try:
                self._lock.reacquire()
            except Exception:  # Redis away for a moment: try again at the next beat
                log.warning("could not renew the fit lock", exc_info=True)
