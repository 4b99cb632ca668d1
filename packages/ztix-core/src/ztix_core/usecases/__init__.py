"""Public use cases of ztix."""

from ztix_core.usecases.accounts import Accounts, AccountSummary
from ztix_core.usecases.looking_glass import LookingGlass, LookingGlassView
from ztix_core.usecases.members import KEEP, MemberChange, MemberSettings
from ztix_core.usecases.networks import NetworkSync, sync_networks
from ztix_core.usecases.observations import ObservationPass, Observer
from ztix_core.usecases.onboarding import ImportEntry, ImportOutcome, ImportReport, MemberImport
from ztix_core.usecases.provisioning import Provisioner, ProvisioningSettings, SyncResult
from ztix_core.usecases.queries import RequestDetail, RequestPage, RequestQueries
from ztix_core.usecases.registry import FactsView, RefreshResult, RegistryFacts
from ztix_core.usecases.requests import RequestWorkflow
from ztix_core.usecases.route_server_drift import DriftCheck, check_route_servers
from ztix_core.usecases.vitals import Vitals, read_vitals

__all__ = [
    "KEEP",
    "AccountSummary",
    "Accounts",
    "DriftCheck",
    "FactsView",
    "ImportEntry",
    "ImportOutcome",
    "ImportReport",
    "LookingGlass",
    "LookingGlassView",
    "MemberChange",
    "MemberImport",
    "MemberSettings",
    "NetworkSync",
    "ObservationPass",
    "Observer",
    "Provisioner",
    "ProvisioningSettings",
    "RefreshResult",
    "RegistryFacts",
    "RequestDetail",
    "RequestPage",
    "RequestQueries",
    "RequestWorkflow",
    "SyncResult",
    "Vitals",
    "check_route_servers",
    "read_vitals",
    "sync_networks",
]
