"""The SQL unit of work: one database transaction over every repository."""

from __future__ import annotations

import threading
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ztix_adapters_sql.engine import create_engine_for
from ztix_adapters_sql.repositories import (
    SqlApiTokenRepository,
    SqlAsnLinkRepository,
    SqlAuditRepository,
    SqlCredentialRepository,
    SqlIdempotencyRepository,
    SqlIpAllocationRepository,
    SqlJoinRequestRepository,
    SqlMemberFactsRepository,
    SqlMembershipRepository,
    SqlNetworkAccessRepository,
    SqlNetworkFactsRepository,
    SqlNetworkRepository,
    SqlNotificationRepository,
    SqlOAuthStateRepository,
    SqlObservationRepository,
    SqlOnboardingRepository,
    SqlOutboxRepository,
    SqlRecipientRepository,
    SqlRouteServerStateRepository,
    SqlTotpRepository,
    SqlUserRepository,
    SqlWebSessionRepository,
)


class SqlUnitOfWork:
    """A unit of work over one SQLAlchemy session (one transaction).

    Leaving the ``with`` block without :meth:`commit` rolls back, as does an exception.
    """

    def __init__(self, session: Session, open_units: threading.local | None = None) -> None:
        self.session = session
        self._open_units = open_units
        self._entered = False
        self.users = SqlUserRepository(session)
        self.credentials = SqlCredentialRepository(session)
        self.asn_links = SqlAsnLinkRepository(session)
        self.networks = SqlNetworkRepository(session)
        self.network_access = SqlNetworkAccessRepository(session)
        self.requests = SqlJoinRequestRepository(session)
        self.memberships = SqlMembershipRepository(session)
        self.allocations = SqlIpAllocationRepository(session)
        self.audit = SqlAuditRepository(session)
        self.outbox = SqlOutboxRepository(session)
        self.route_servers = SqlRouteServerStateRepository(session)
        self.observations = SqlObservationRepository(session)
        self.network_facts = SqlNetworkFactsRepository(session)
        self.member_facts = SqlMemberFactsRepository(session)
        self.oauth_states = SqlOAuthStateRepository(session)
        self.web_sessions = SqlWebSessionRepository(session)
        self.totp = SqlTotpRepository(session)
        self.api_tokens = SqlApiTokenRepository(session)
        self.idempotency = SqlIdempotencyRepository(session)
        self.notifications = SqlNotificationRepository(session)
        self.notify_recipients = SqlRecipientRepository(session)
        self.onboarding = SqlOnboardingRepository(session)

    def __enter__(self) -> SqlUnitOfWork:
        if self._open_units is not None:
            # SQLite: the outer unit may hold the single writer lock, which the inner one
            # would wait for until the busy timeout. Refuse at once, saying why.
            depth = getattr(self._open_units, "depth", 0)
            if depth:
                raise RuntimeError(
                    "units of work over SQLite cannot be nested in one thread: the inner one "
                    "would wait for the outer one's write lock; finish the outer unit first"
                )
            self._open_units.depth = depth + 1
            self._entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()
            self.session.close()
        finally:
            if self._entered and self._open_units is not None:
                self._open_units.depth -= 1
                self._entered = False

    def commit(self) -> None:
        """Commit every change of this unit at once."""
        self.session.commit()

    def rollback(self) -> None:
        """Drop every uncommitted change."""
        self.session.rollback()


class SqlUnitOfWorkFactory:
    """Builds units of work over one engine (built once, pooled). Call it for a new unit."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine if engine is not None else create_engine_for(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        sqlite = self.engine.dialect.name == "sqlite"
        self._open_units = threading.local() if sqlite else None

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions(), self._open_units)

    def dispose(self) -> None:
        """Close the pool's connections (tests, shutdown)."""
        self.engine.dispose()


def sql_uow_factory(url: str) -> SqlUnitOfWorkFactory:
    """A unit-of-work factory for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://…``)."""
    return SqlUnitOfWorkFactory(url)
