"""The one place that wires kindred's parts together: database, Redis, unit of work.

The API, the CLI, workers and tests all build their dependencies here, so a test can swap a part
without patching.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from service.adapters.database import make_engine, make_session_factory
from service.adapters.redis_connection import connect
from service.config import Settings
from service.services.unit_of_work import UnitOfWork


@dataclass
class Kindred:
    settings: Settings
    engine: sa.Engine
    session_factory: sessionmaker[Session]
    _redis: redis.Redis | None = None
    _matchers: object | None = None

    def uow(self, publish: bool = True) -> UnitOfWork:
        """A unit of work whose recorded events are published to RQ right after it commits."""
        return UnitOfWork(self.session_factory, self.publisher if publish else None)

    @property
    def publisher(self):
        from service.adapters.publisher import EventPublisher

        return EventPublisher(self)

    @property
    def matchers(self):
        """This process's fitted matchers, refitted when the catalogue or members change, and
        shared with the other workers through the model store."""
        if self._matchers is None:
            from service.adapters.matcher_source import MatcherCache
            from service.adapters.model_store import ModelStore

            store = ModelStore(self.settings.models_folder, self.redis)
            self._matchers = MatcherCache(store, self.settings.regions)
        return self._matchers

    @property
    def redis(self) -> redis.Redis:
        # Connected on first use: importing or building the app never opens a connection.
        if self._redis is None:
            self._redis = connect(self.settings.redis_url, self.settings.var_dir)
        return self._redis

    def close(self) -> None:
        self.engine.dispose()
        if self._redis is not None:
            self._redis.close()


def bootstrap(settings: Settings | None = None) -> Kindred:
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    return Kindred(settings=settings, engine=engine, session_factory=make_session_factory(engine))
