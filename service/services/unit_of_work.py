"""A unit of work: one transaction, rolled back unless the use case commits it.

Events recorded in the transaction (the outbox) are handed to the publisher right after the
commit, never before: a job can only ever see rows that exist.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from service.adapters.repositories import (
    CoordinatorRepository,
    ListingRepository,
    MemberRepository,
    OrganizationRepository,
)
from service.domain.errors import Unavailable

Publisher = Callable[[list[int]], None]
# A restart of PostgreSQL takes seconds: a client told 503 may try again after this many.
RETRY_AFTER_SECONDS = 5


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session], publisher: Publisher | None = None):
        self._session_factory = session_factory
        self._publisher = publisher

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.organizations = OrganizationRepository(self.session)
        self.listings = ListingRepository(self.session)
        self.members = MemberRepository(self.session)
        self.coordinators = CoordinatorRepository(self.session)
        self.new_events: list = []
        return self

    def __exit__(self, exc_type, error, traceback) -> None:
        # Closing rolls back whatever was not committed (a failed request leaves no half-written
        # rows) and detaches loaded objects without expiring them, so callers can still read them.
        self.session.close()
        if unreachable(error):
            # The database went away (a restart, a failover) or had to give up (a deadlock, a
            # lock timeout): nothing was written, and trying again shortly will work. A request
            # is answered 503 instead of a 500; a job is retried as before.
            raise Unavailable(
                "the database cannot be reached just now: nothing was changed, try again shortly",
                retry_after=RETRY_AFTER_SECONDS,
            ) from error

    def commit(self) -> None:
        self.session.flush()
        event_ids = [event.id for event in self.new_events]
        self.session.commit()
        self.new_events = []
        if event_ids and self._publisher is not None:
            self._publisher(event_ids)

    def flush(self) -> None:
        self.session.flush()


# PostgreSQL's "not now": connection exceptions (08), the server shutting down or starting up
# (57P), a deadlock (40P01), a lock not available (55P03), a serialization failure (40001).
TRANSIENT_SQLSTATE_PREFIXES = ("08", "57P", "40P01", "55P03", "40001")
# SQLite's: another writer holds the file.
TRANSIENT_SQLITE_MESSAGES = ("database is locked", "database is busy")


def unreachable(error: BaseException | None) -> bool:
    """A database error that says "not now" (lost connection, shutting down or starting up,
    deadlock, lock timeout), not "never" (a constraint, a missing table, a bug in a query)."""
    if getattr(error, "connection_invalidated", False):
        return True
    if not isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError):
        return False
    original = error.orig
    if isinstance(original, sqlite3.Error):
        return any(message in str(original) for message in TRANSIENT_SQLITE_MESSAGES)
    # psycopg: no SQLSTATE when the connection itself failed (refused, reset, closed).
    sqlstate = getattr(original, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(TRANSIENT_SQLSTATE_PREFIXES)
