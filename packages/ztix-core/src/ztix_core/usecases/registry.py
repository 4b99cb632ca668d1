"""PeeringDB facts through a cache in the database, and the max-prefix they give.

The :class:`~ztix_core.ports.NetworkRegistry` only asks the source (PeeringDB). This use
case keeps every answer in the unit of work's ``network_facts`` repository with its fetch
time, so that:

- a lookup is answered from the cache while it is fresh, and from the source otherwise;
  when the source cannot be asked, the stale entry is served with its age and the reason,
  and an ASN never asked successfully is *unknown* — never taken as "no network";
- the worker refreshes, on a schedule, the ASNs that matter (members and live requests)
  whose entry is older than the registry's refresh interval, in as few calls as the
  source batches;
- a refresh or an admin's override that changes a member's effective max-prefix writes
  a route-server sync to the outbox in the same unit of work, so the change reaches the
  route servers through the normal sync;
- route-server rendering reads the cache and never waits on PeeringDB.

The effective max-prefix of a member, per family: the member's own limit (an admin's
per-member setting), else the admin's override for the ASN, else the registry's limit
(PeeringDB's count with headroom and floor), else ztix's default.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Collection, Iterable

import attrs

from ztix_core.errors import InvalidValue, NotFound, PermissionDenied
from ztix_core.max_prefix import MaxPrefix, check_max_prefix, effective_max_prefix
from ztix_core.ports import (
    CachedFacts,
    Clock,
    MaxPrefixOverride,
    NetworkRegistry,
    RegistryFetch,
    RequestFilter,
    UnitOfWork,
    UnitOfWorkFactory,
)
from ztix_core.records import Actor, JsonDict, OutboxMessage, new_id
from ztix_core.status import LIVE_STATUSES
from ztix_core.usecases._common import TOPIC_SYNC, audit
from ztix_core.usecases.provisioning import ProvisioningSettings
from ztix_core.values import Asn

log = logging.getLogger(__name__)

#: the most live requests a refresh considers (a bound, far above any real queue)
_MAX_LIVE_REQUESTS = 100_000


@attrs.frozen
class FactsView:
    """Everything a page shows about one ASN's PeeringDB facts."""

    asn: Asn
    cached: CachedFacts | None
    override: MaxPrefixOverride | None
    max_prefix: MaxPrefix
    now: dt.datetime

    @property
    def age(self) -> dt.timedelta | None:
        """How old the facts are (None when PeeringDB never answered)."""
        if self.cached is None or self.cached.fetched_at is None:
            return None
        return self.now - self.cached.fetched_at


@attrs.frozen
class RefreshResult:
    """What one refresh did (for logs, the CLI and tests)."""

    asked: int = 0
    found: int = 0
    absent: int = 0
    failed: int = 0
    calls: int = 0
    max_prefix_changed: tuple[Asn, ...] = ()
    errors: tuple[str, ...] = ()

    def line(self) -> str:
        """One log line."""
        text = (
            f"PeeringDB refresh: {self.asked} ASN(s) asked in {self.calls} call(s): "
            f"{self.found} found, {self.absent} without a network, {self.failed} not answered"
        )
        if self.max_prefix_changed:
            changed = ", ".join(str(a) for a in self.max_prefix_changed)
            text += f"; max-prefix changed for {changed} (route-server sync requested)"
        if self.errors:
            text += f"; errors: {'; '.join(self.errors)}"
        return text


def _entries(
    fetched: RegistryFetch, previous: dict[Asn, CachedFacts], now: dt.datetime
) -> list[CachedFacts]:
    out = [CachedFacts(a, f, now, now) for a, f in fetched.found.items()]
    out += [CachedFacts(a, None, now, now) for a in fetched.absent]
    for asn, error in fetched.failed.items():
        old = previous.get(asn)
        out.append(
            CachedFacts(
                asn,
                old.facts if old else None,
                old.fetched_at if old else None,
                now,
                error or "no answer",
            )
        )
    return sorted(out, key=lambda e: e.asn.value)  # by value: attrs ordering is slow


def _sync_message(at: dt.datetime, reason: str) -> OutboxMessage:
    return OutboxMessage(new_id(), TOPIC_SYNC, {}, at, correlation_id=reason)


class RegistryFacts:
    """PeeringDB facts with their fetch time, the refresh and the max-prefix overrides
    (see the module docstring)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        registry: NetworkRegistry,
        defaults: ProvisioningSettings | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.registry = registry
        self.defaults = defaults or ProvisioningSettings()

    def _effective(
        self, cached: CachedFacts | None, override: MaxPrefixOverride | None
    ) -> MaxPrefix:
        d = self.defaults
        return effective_max_prefix(
            cached, override, d.default_max_prefix_v4, d.default_max_prefix_v6
        )

    # ------------------------------------------------------------------ lookups

    def _due(self, entry: CachedFacts | None, now: dt.datetime) -> bool:
        if entry is None or entry.fetched_at is None:
            return True
        age = (now - entry.fetched_at).total_seconds()
        return age >= self.registry.refresh_interval_s

    def ask(self, asn: Asn) -> CachedFacts:
        """The ASN's facts without writing anything: from the cache while fresh, else
        asked now. When the source cannot answer, the cached entry comes back with the
        error (stale facts with their age, or ``known`` False: unknown, never "no
        network"). Never raises for the source's failure; asks impatiently (one try, no
        waiting out a rate limit) because a person waits. :meth:`remember` stores it."""
        with self.uow_factory() as uow:
            cached = uow.network_facts.get_many([asn]).get(asn)
        now = self.clock.now()
        if cached is not None and not self._due(cached, now):
            return cached
        fetched = self._fetch([asn], patient=False)  # someone is waiting: no long retries
        return _entries(fetched, {asn: cached} if cached else {}, now)[0]

    def remember(self, uow: UnitOfWork, entry: CachedFacts) -> None:
        """Store an entry from :meth:`ask` in the caller's unit of work (with the sync a
        changed member max-prefix needs); nothing when it came from the cache."""
        if entry.checked_at == self._stored_checked_at(uow, entry.asn):
            return
        self._write(uow, [entry], self.clock.now())

    @staticmethod
    def _stored_checked_at(uow: UnitOfWork, asn: Asn) -> dt.datetime | None:
        stored = uow.network_facts.get_many([asn]).get(asn)
        return stored.checked_at if stored else None

    def answer(self, asn: Asn) -> CachedFacts:
        """:meth:`ask`, then :meth:`remember` in a unit of work of its own."""
        entry = self.ask(asn)
        with self.uow_factory() as uow:
            self.remember(uow, entry)
            uow.commit()
        return entry

    def cached(self, asns: Collection[Asn]) -> dict[Asn, CachedFacts]:
        """What the cache holds for ``asns`` (no call to the source)."""
        with self.uow_factory() as uow:
            return uow.network_facts.get_many(asns)

    def view(self, asn: Asn, request_id: uuid.UUID | None = None) -> FactsView:
        """The ASN's cached facts, override and effective max-prefix, for a page (reads
        the cache only: a page never waits on PeeringDB). With ``request_id``, the
        max-prefix is that member's: its own limit, when an admin set one, comes first."""
        with self.uow_factory() as uow:
            cached = uow.network_facts.get_many([asn]).get(asn)
            override = uow.network_facts.overrides([asn]).get(asn)
            member = uow.member_facts.get(request_id) if request_id is not None else None
        return FactsView(
            asn,
            cached,
            override,
            effective_max_prefix(
                cached,
                override,
                self.defaults.default_max_prefix_v4,
                self.defaults.default_max_prefix_v6,
                member,
            ),
            self.clock.now(),
        )

    def for_request(self, actor: Actor, request_id: uuid.UUID) -> FactsView:
        """The PeeringDB facts (with their fetch time and any error), override and
        effective max-prefix of a request's member (its own limit first), for the
        request's owner or an admin
        (PermissionDenied for anyone else, NotFound for an unknown id). Cache only."""
        with self.uow_factory() as uow:
            request = uow.requests.get(request_id)
            if request is None:
                raise NotFound(f"request {request_id} not found")
            if not actor.is_admin and str(request.user_id) != actor.id:
                raise PermissionDenied("this request belongs to another user")
        return self.view(request.asn, request.id)

    # ------------------------------------------------------------------ refresh

    def _fetch(self, asns: Collection[Asn], *, patient: bool = True) -> RegistryFetch:
        try:
            return self.registry.fetch(asns, patient=patient)
        except Exception as exc:  # the port says never; a broken adapter still must not crash
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("the network registry failed: %s", reason)
            return RegistryFetch(failed=dict.fromkeys(asns, reason))

    @staticmethod
    def relevant_asns(uow: UnitOfWork) -> set[Asn]:
        """The ASNs whose facts matter: every member and every live request."""
        asns = {m.asn for m in uow.memberships.list()}
        live = uow.requests.query(
            RequestFilter(statuses=frozenset(LIVE_STATUSES), limit=_MAX_LIVE_REQUESTS)
        )
        return asns | {r.asn for r in live}

    def refresh(self, *, force: bool = False, asns: Iterable[Asn] | None = None) -> RefreshResult:
        """Ask the source about every relevant ASN (``asns`` when given) whose entry is
        missing or older than the refresh interval (every one when ``force``), store the
        answers, and request a route-server sync when a member's max-prefix changed."""
        now = self.clock.now()
        with self.uow_factory() as uow:
            wanted = set(asns) if asns is not None else self.relevant_asns(uow)
            previous = uow.network_facts.get_many(wanted)
        due = sorted(
            (a for a in wanted if force or self._due(previous.get(a), now)), key=lambda a: a.value
        )
        if not due:
            return RefreshResult()
        fetched = self._fetch(due)
        _, changed = self._store(fetched, previous)
        errors = tuple(sorted(set(fetched.failed.values())))
        result = RefreshResult(
            asked=len(due),
            found=len(fetched.found),
            absent=len(fetched.absent),
            failed=len(fetched.failed),
            calls=fetched.calls,
            max_prefix_changed=changed,
            errors=errors[:5],
        )
        log.info(result.line())
        return result

    def _store(
        self, fetched: RegistryFetch, previous: dict[Asn, CachedFacts]
    ) -> tuple[list[CachedFacts], tuple[Asn, ...]]:
        """Write the answers in one unit of work (see :meth:`_write`)."""
        now = self.clock.now()
        entries = _entries(fetched, previous, now)
        with self.uow_factory() as uow:
            changed = self._write(uow, entries, now)
            uow.commit()
        return entries, changed

    def _write(
        self, uow: UnitOfWork, entries: list[CachedFacts], now: dt.datetime
    ) -> tuple[Asn, ...]:
        """Store ``entries``; audit every member whose effective max-prefix changed and,
        when one did, write one route-server sync to the outbox."""
        members = uow.memberships.asns_among({e.asn for e in entries})
        touched = [e.asn for e in entries if e.asn in members]
        overrides = uow.network_facts.overrides(touched) if touched else {}
        before = uow.network_facts.get_many(touched) if touched else {}
        uow.network_facts.put_many(entries)
        changed: list[Asn] = []
        for entry in entries:
            if entry.asn not in members:
                continue
            override = overrides.get(entry.asn)
            old = self._effective(before.get(entry.asn), override)
            new = self._effective(entry, override)
            if (old.v4, old.v6) == (new.v4, new.v6):
                continue
            changed.append(entry.asn)
            audit(
                uow,
                now,
                Actor.system("peeringdb-refresh"),
                "max_prefix.changed",
                "asn",
                str(entry.asn.value),
                {
                    "from": {"v4": old.v4, "v6": old.v6},
                    "to": {"v4": new.v4, "v6": new.v6},
                    "source": {"v4": new.source_v4, "v6": new.source_v6},
                },
            )
        if changed:
            uow.outbox.add(_sync_message(now, "peeringdb-refresh"))
        return tuple(changed)

    # ------------------------------------------------------------------ overrides

    def set_override(
        self,
        actor: Actor,
        asn: Asn,
        *,
        v4: int | None,
        v6: int | None,
        reason: str,
    ) -> MaxPrefixOverride:
        """Set an admin's max-prefix for ``asn`` (either family or both), audited; a
        route-server sync is requested when the ASN is a member. Refuses a non-admin,
        a value outside 1..10,000,000, no value, or an empty reason (nothing written)."""
        if not actor.is_admin:
            raise PermissionDenied("only an admin may override a max-prefix")
        if v4 is None and v6 is None:
            raise InvalidValue("max_prefix", "give an IPv4 or an IPv6 limit (or both)")
        for family, value in (("v4", v4), ("v6", v6)):
            if value is not None:
                check_max_prefix(f"max_prefix_{family}", value)
        if not reason.strip():
            raise InvalidValue("reason", "say why the override is needed")
        now = self.clock.now()
        override = MaxPrefixOverride(asn, v4, v6, reason.strip(), str(actor), now)
        with self.uow_factory() as uow:
            old = uow.network_facts.overrides([asn]).get(asn)
            uow.network_facts.set_override(override)
            meta: JsonDict = {"v4": v4, "v6": v6, "reason": override.reason}
            if old is not None:
                meta["previous"] = {"v4": old.max_prefix_v4, "v6": old.max_prefix_v6}
            audit(uow, now, actor, "max_prefix.override_set", "asn", str(asn.value), meta)
            self._sync_if_member(uow, asn, now)
            uow.commit()
        return override

    def clear_override(self, actor: Actor, asn: Asn, *, reason: str = "") -> None:
        """Remove ``asn``'s override (audited; a sync is requested when it is a member).
        NotFound when there is none (nothing written)."""
        if not actor.is_admin:
            raise PermissionDenied("only an admin may clear a max-prefix override")
        now = self.clock.now()
        with self.uow_factory() as uow:
            old = uow.network_facts.overrides([asn]).get(asn)
            if old is None or not uow.network_facts.clear_override(asn):
                raise NotFound(f"{asn} has no max-prefix override", asn=asn.value)
            meta: JsonDict = {"previous": {"v4": old.max_prefix_v4, "v6": old.max_prefix_v6}}
            if reason.strip():
                meta["reason"] = reason.strip()
            audit(uow, now, actor, "max_prefix.override_cleared", "asn", str(asn.value), meta)
            self._sync_if_member(uow, asn, now)
            uow.commit()

    def overrides(self) -> list[MaxPrefixOverride]:
        """Every override, by ASN."""
        with self.uow_factory() as uow:
            return list(uow.network_facts.overrides().values())

    @staticmethod
    def _sync_if_member(uow: UnitOfWork, asn: Asn, now: dt.datetime) -> None:
        if any(m.asn == asn for m in uow.memberships.list()):
            uow.outbox.add(_sync_message(now, f"max-prefix-override:{asn.value}"))
