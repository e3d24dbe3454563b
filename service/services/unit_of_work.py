"""A unit of work: one transaction, rolled back unless the use case commits it.

Events recorded in the transaction (the outbox) are handed to the publisher right after the
commit, never before: a job can only ever see rows that exist.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from service.adapters.repositories import (
    CoordinatorRepository,
    ListingRepository,
    MemberRepository,
    OrganizationRepository,
)

Publisher = Callable[[list[int]], None]


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

    def __exit__(self, *exc_info) -> None:
        # Closing rolls back whatever was not committed (a failed request leaves no half-written
        # rows) and detaches loaded objects without expiring them, so callers can still read them.
        self.session.close()

    def commit(self) -> None:
        self.session.flush()
        event_ids = [event.id for event in self.new_events]
        self.session.commit()
        self.new_events = []
        if event_ids and self._publisher is not None:
            self._publisher(event_ids)

    def flush(self) -> None:
        self.session.flush()
