"""A unit of work: one transaction, rolled back unless the use case commits it."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from service.adapters.repositories import (
    CoordinatorRepository,
    ListingRepository,
    MemberRepository,
    OrganizationRepository,
)


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._session_factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.organizations = OrganizationRepository(self.session)
        self.listings = ListingRepository(self.session)
        self.members = MemberRepository(self.session)
        self.coordinators = CoordinatorRepository(self.session)
        return self

    def __exit__(self, *exc_info) -> None:
        # Closing rolls back whatever was not committed (a failed request leaves no half-written
        # rows) and detaches loaded objects without expiring them, so callers can still read them.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def flush(self) -> None:
        self.session.flush()
