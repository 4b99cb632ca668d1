"""SQL repositories: one class per repository port of the core (the web storage
ports of :mod:`ztix_core.web_ports` too)."""

from ztix_adapters_sql.repositories.accounts import (
    SqlAsnLinkRepository,
    SqlCredentialRepository,
    SqlNetworkAccessRepository,
    SqlUserRepository,
)
from ztix_adapters_sql.repositories.api import SqlApiTokenRepository, SqlIdempotencyRepository
from ztix_adapters_sql.repositories.member_facts import SqlMemberFactsRepository
from ztix_adapters_sql.repositories.membership import (
    SqlIpAllocationRepository,
    SqlMembershipRepository,
)
from ztix_adapters_sql.repositories.networks import SqlNetworkRepository
from ztix_adapters_sql.repositories.notify import (
    SqlNotificationRepository,
    SqlRecipientRepository,
)
from ztix_adapters_sql.repositories.observations import SqlObservationRepository
from ztix_adapters_sql.repositories.onboarding import SqlOnboardingRepository
from ztix_adapters_sql.repositories.registry import SqlNetworkFactsRepository
from ztix_adapters_sql.repositories.requests import SqlJoinRequestRepository
from ztix_adapters_sql.repositories.route_servers import SqlRouteServerStateRepository
from ztix_adapters_sql.repositories.totp import SqlTotpRepository
from ztix_adapters_sql.repositories.trail import SqlAuditRepository, SqlOutboxRepository
from ztix_adapters_sql.repositories.web import SqlOAuthStateRepository, SqlWebSessionRepository

__all__ = [
    "SqlApiTokenRepository",
    "SqlAsnLinkRepository",
    "SqlAuditRepository",
    "SqlCredentialRepository",
    "SqlIdempotencyRepository",
    "SqlIpAllocationRepository",
    "SqlJoinRequestRepository",
    "SqlMemberFactsRepository",
    "SqlMembershipRepository",
    "SqlNetworkAccessRepository",
    "SqlNetworkFactsRepository",
    "SqlNetworkRepository",
    "SqlNotificationRepository",
    "SqlOAuthStateRepository",
    "SqlObservationRepository",
    "SqlOnboardingRepository",
    "SqlOutboxRepository",
    "SqlRecipientRepository",
    "SqlRouteServerStateRepository",
    "SqlTotpRepository",
    "SqlUserRepository",
    "SqlWebSessionRepository",
]
