"""Workers share fitted matchers: after a change one fits and saves, the others load its file.

"A worker" here is a Kindred wired from the same settings (its own MatcherCache, the same model
folder and Redis), or a real separate process where the lock between processes is the point.
"""

from __future__ import annotations

import multiprocessing

import pytest
import redis
import sqlalchemy as sa

from service.adapters import model_store
from service.adapters.matcher_source import MatcherCache
from service.adapters.model_store import ModelStore
from service.adapters.orm import Member
from service.bootstrap import bootstrap
from service.demo.seed import seed_demo


@pytest.fixture
def seeded(kindred):
    seed_demo(kindred, member_count=40, listing_count=10, progress=False)
    return kindred


@pytest.fixture
def second_worker(seeded):
    other = bootstrap(seeded.settings)
    yield other
    other.close()


def fitted(kindred):
    with kindred.uow() as uow:
        return kindred.matchers.get(uow.session)


def change_the_data(kindred):
    """A change the models must follow: a member widens how far they travel."""
    with kindred.uow() as uow:
        member = uow.session.scalars(sa.select(Member).order_by(Member.id)).first()
        member.travel_radius_km += 1
        uow.commit()


def recommend(fitted_matchers, kindred):
    with kindred.uow() as uow:
        from service.adapters.matcher_source import consenting_profiles

        profile = consenting_profiles(uow.session)[0]
    groups = fitted_matchers.group.recommend(profile, k=5)
    peers = fitted_matchers.peer.recommend(profile, k=3)
    return [(g.listing_id, g.score) for g in groups], [(p.member_id, p.score) for p in peers]


def test_a_second_worker_loads_the_model_the_first_fitted(seeded, second_worker):
    first = fitted(seeded)
    loaded = fitted(second_worker)
    assert (seeded.matchers.fits, second_worker.matchers.fits) == (1, 0)
    assert second_worker.matchers.loads == 1
    assert loaded.fingerprint == first.fingerprint
    assert recommend(loaded, seeded) == recommend(first, seeded)  # the same model, not a stub
    saved = ModelStore(seeded.settings.models_folder, None).path(None, first.fingerprint)
    assert saved.stat().st_mode & 0o777 == 0o600  # it holds what matchers read of profiles

    change_the_data(seeded)
    assert fitted(second_worker).fingerprint != first.fingerprint  # this time it fits...
    fitted(seeded)  # ...and the first worker loads
    assert (seeded.matchers.fits, second_worker.matchers.fits) == (1, 1)
    assert (seeded.matchers.loads, second_worker.matchers.loads) == (1, 1)


def test_a_worker_answers_from_its_model_while_another_fits(seeded, second_worker):
    held = fitted(seeded)
    change_the_data(seeded)
    store = ModelStore(seeded.settings.models_folder, seeded.redis)
    with store.fitting_lock(None):  # the other worker is fitting the new data
        assert fitted(seeded) is held
        assert seeded.matchers.fits == 1
    fresh = fitted(seeded)  # the lock is free: the change is fitted
    assert fresh is not held and seeded.matchers.fits == 2


def test_a_fitter_that_died_frees_the_region_when_its_lease_ends(
    seeded, second_worker, monkeypatch
):
    monkeypatch.setattr(model_store, "LOCK_SECONDS", 1)
    store = ModelStore(seeded.settings.models_folder, seeded.redis)
    assert store.fitting_lock(None) is not None  # taken, never renewed nor released: a kill -9
    # The second worker has no model to answer from: it waits for the lease to lapse, then fits.
    assert fitted(second_worker).members is not None
    assert second_worker.matchers.fits == 1


def test_only_one_worker_takes_a_regions_lock_and_only_workers_sharing_its_folder_wait(
    seeded, tmp_path
):
    here = ModelStore(seeded.settings.models_folder, seeded.redis)
    same_folder = ModelStore(seeded.settings.models_folder, seeded.redis)
    other_machine = ModelStore(tmp_path / "elsewhere", seeded.redis)
    with here.fitting_lock("nyc"):
        assert same_folder.fitting_lock("nyc") is None
        assert same_folder.fitting_lock("portland") is not None  # another region's lock
        assert other_machine.fitting_lock("nyc") is not None  # nothing to share: fits alone


def test_without_redis_a_worker_fits_and_saves_alone(seeded):
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    cache = MatcherCache(ModelStore(seeded.settings.models_folder, unreachable))
    with seeded.uow() as uow:
        model = cache.get(uow.session)
    assert cache.fits == 1 and model.members is not None
    assert ModelStore(seeded.settings.models_folder, None).load(None, model.fingerprint)


def test_an_unreadable_model_file_is_refitted_and_replaced(seeded, second_worker):
    first = fitted(seeded)
    path = ModelStore(seeded.settings.models_folder, None).path(None, first.fingerprint)
    path.write_bytes(b"half a file")
    assert fitted(second_worker).fingerprint == first.fingerprint
    assert second_worker.matchers.fits == 1
    assert ModelStore(seeded.settings.models_folder, None).load(None, first.fingerprint)


def test_only_the_newest_model_of_a_region_is_kept(seeded):
    for _ in range(4):
        change_the_data(seeded)
        fitted(seeded)
    kept = list((seeded.settings.models_folder / model_store.ALL_REGIONS).glob("*.pkl"))
    assert len(kept) == model_store.KEEP_PER_REGION
    assert (
        ModelStore(seeded.settings.models_folder, None).path(None, fitted(seeded).fingerprint)
        in kept
    )


def _worker_process(settings, barrier, results):
    kindred = bootstrap(settings)
    barrier.wait()  # all ask at the same moment, as workers do after a change
    with kindred.uow() as uow:
        model = kindred.matchers.get(uow.session)
    results.put((kindred.matchers.fits, kindred.matchers.loads, model.fingerprint))
    kindred.close()


def test_workers_in_separate_processes_fit_once_between_them(seeded):
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    workers = [
        context.Process(target=_worker_process, args=(seeded.settings, barrier, results))
        for _ in range(3)
    ]
    for process in workers:
        process.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert sum(fits for fits, _, _ in outcomes) == 1
    assert sum(loads for _, loads, _ in outcomes) == 2
    assert len({fingerprint for _, _, fingerprint in outcomes}) == 1


def test_while_another_fits_a_worker_takes_the_newest_model_saved(seeded, second_worker):
    oldest = fitted(seeded)
    change_the_data(seeded)
    newer = fitted(second_worker)  # fitted and saved by the second worker
    change_the_data(seeded)  # and the data moved on again
    store = ModelStore(seeded.settings.models_folder, seeded.redis)
    with store.fitting_lock(None):  # someone fits the newest data
        taken = fitted(seeded)
        assert taken.fingerprint == newer.fingerprint != oldest.fingerprint
        assert (seeded.matchers.fits, seeded.matchers.loads) == (1, 1)
        # A worker just started, holding nothing, does not wait for the fit either.
        third = bootstrap(seeded.settings)
        try:
            assert fitted(third).fingerprint == newer.fingerprint
        finally:
            third.close()


def test_a_fitter_that_lost_its_lock_does_not_save(seeded):
    """Its lease lapsed (Redis away): another may have saved newer data since, which saving
    would prune; the model is still used by this worker."""

    class LosesItsLock(MatcherCache):
        def _fit(self, *arguments):
            for key in seeded.redis.scan_iter("kindred:fit:*"):
                seeded.redis.delete(key)  # the lease lapsed while it fitted
            return super()._fit(*arguments)

    cache = LosesItsLock(ModelStore(seeded.settings.models_folder, seeded.redis))
    with seeded.uow() as uow:
        model = cache.get(uow.session)
    assert cache.fits == 1 and model.members is not None
    assert list(seeded.settings.models_folder.rglob("*.pkl")) == []
