"""The ``peeringdb`` NetworkRegistry over PeeringDB's REST API (being built: issue 12)."""

from __future__ import annotations

from ztix_adapters_peeringdb.settings import PeeringDbSettings
from ztix_core.errors import SettingsError
from ztix_core.ports import NetworkFacts
from ztix_core.values import Asn


class PeeringDbRegistry:
    """PeeringDB facts per ASN over the REST API."""

    def __init__(self, settings: PeeringDbSettings, api_key: str | None) -> None:
        self.settings = settings
        self._api_key = api_key

    def lookup(self, asn: Asn) -> NetworkFacts | None:
        raise SettingsError(
            "ZTIX_NETWORK_REGISTRY", "the peeringdb registry is not usable yet; use memory"
        )
