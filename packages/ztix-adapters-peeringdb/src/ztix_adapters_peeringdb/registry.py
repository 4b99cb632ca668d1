"""The ``peeringdb`` NetworkRegistry over PeeringDB's REST API (httpx).

One :meth:`PeeringDbRegistry.fetch` asks about many ASNs in as few calls as PeeringDB
allows: ``GET {base}/net?asn__in=a,b,c`` with at most ``batch_size`` (<= 150) ASNs each,
paced ``min_interval_s`` apart (PeeringDB allows 40 calls a minute with a key, 20
without). Stages of one call:

1. send, with ``Authorization: Api-Key …`` when a key is configured;
2. on a 429, wait what ``Retry-After`` asks (seconds or an HTTP date) when it is at most
   ``max_retry_wait_s`` and try again; asking for longer ends the round: every batch not
   yet asked fails with that reason, and later fetches fail at once, without a call,
   until the time PeeringDB named has passed;
3. on a timeout, a refused or dropped connection, a 5xx or a body that is not the JSON
   PeeringDB sends, wait ``backoff_s`` (doubling) and try again, ``retry_attempts`` in
   all; a 401/403 ends the round (the key is refused);
4. read the records: an ASN with a well-formed record is *found*, an ASN PeeringDB's
   answer does not hold is *absent* (PeeringDB has no network for it), and an ASN whose
   record is malformed, or whose batch failed, is *failed* with the reason — never absent.

A ``Retry-After`` holds every caller of the registry (the web's submissions too) until it
has passed. An impatient fetch (``patient=False``: a person waits) tries each call once
and never waits out a 429. Nothing here raises for PeeringDB's failure. The core caches the answers
(:class:`ztix_core.usecases.RegistryFacts`). The API key never appears in a message.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import httpx

from ztix_adapters_peeringdb.settings import MaxPrefixRule, PeeringDbSettings
from ztix_core.ports import NetworkFacts, RegistryFetch
from ztix_core.values import Asn

log = logging.getLogger(__name__)

#: the fields ztix reads, asked for by name (smaller answers)
FIELDS = (
    "id,asn,name,irr_as_set,info_prefixes4,info_prefixes6,info_never_via_route_servers,"
    "policy_general,status,updated"
)


class _CallFailed(Exception):
    """One batch could not be answered. ``ends_round``: do not ask the next batches."""

    def __init__(self, reason: str, *, ends_round: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ends_round = ends_round


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None
    when it is missing or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _int_or_none(record: Mapping[str, Any], key: str) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is {value!r}, not a count")
    return value


def _text(record: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{key} is {value!r}, not text")
    return value


def parse_record(record: Any, rule: MaxPrefixRule) -> NetworkFacts:
    """One ``net`` record → NetworkFacts (limits from ``rule``); ValueError naming the
    bad field."""
    if not isinstance(record, Mapping):
        raise ValueError("the record is not an object")
    asn = record.get("asn")
    if isinstance(asn, bool) or not isinstance(asn, int):
        raise ValueError(f"asn is {asn!r}")
    never = record.get("info_never_via_route_servers", False)
    if not isinstance(never, bool):
        raise ValueError(f"info_never_via_route_servers is {never!r}, not true/false")
    pdb_id = record.get("id")
    if pdb_id is not None and (isinstance(pdb_id, bool) or not isinstance(pdb_id, int)):
        raise ValueError(f"id is {pdb_id!r}")
    prefixes4 = _int_or_none(record, "info_prefixes4")
    prefixes6 = _int_or_none(record, "info_prefixes6")
    return NetworkFacts(
        asn=Asn(asn),
        name=_text(record, "name", required=True),
        irr_as_set=_text(record, "irr_as_set"),
        max_prefix_v4=rule.limit(prefixes4, 4),
        max_prefix_v6=rule.limit(prefixes6, 6),
        never_via_route_servers=never,
        policy_general=_text(record, "policy_general") or "Open",
        status=_text(record, "status") or "ok",
        info_prefixes4=prefixes4,
        info_prefixes6=prefixes6,
        peeringdb_id=pdb_id,
        updated=_text(record, "updated"),
    )


def _value(asn: Asn) -> int:
    return asn.value


def _asn_of(record: Any) -> Asn | None:
    raw = record.get("asn") if isinstance(record, Mapping) else None
    if isinstance(raw, bool) or not isinstance(raw, int):
        return None
    try:
        return Asn(raw)
    except ValueError:
        return None


class PeeringDbRegistry:
    """PeeringDB facts per ASN over the REST API (see the module docstring)."""

    def __init__(
        self,
        settings: PeeringDbSettings,
        api_key: str | None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.refresh_interval_s = settings.refresh_interval_s
        self._rule = settings.max_prefix
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._last_call: float | None = None
        self._blocked_until = 0.0
        self._blocked_reason = ""
        headers = {"Accept": "application/json", "User-Agent": "ztix"}
        if api_key:
            headers["Authorization"] = f"Api-Key {api_key}"
        self._client = httpx.Client(
            base_url=settings.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            transport=transport,
            follow_redirects=False,
        )
        #: HTTP calls made since start (the benchmark and tests read it)
        self.calls = 0

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    # ------------------------------------------------------------------ the port

    def fetch(self, asns: Collection[Asn], *, patient: bool = True) -> RegistryFetch:
        """Ask about every ASN in batches (see the module docstring); never raises for
        PeeringDB's failure. Impatient (a person waits): one try per call, and a 429 is
        not waited out."""
        wanted = sorted(set(asns), key=_value)  # attrs ordering of Asn is slow
        size = self.settings.batch_size
        batches = [wanted[i : i + size] for i in range(0, len(wanted), size)]
        found: dict[Asn, NetworkFacts] = {}
        absent: set[Asn] = set()
        failed: dict[Asn, str] = {}
        calls_before = self.calls
        round_over = ""
        for batch in batches:
            if not round_over:
                round_over = self._blocked()
            if round_over:
                failed.update(dict.fromkeys(batch, round_over))
                continue
            try:
                records = self._ask(batch, patient=patient)
            except _CallFailed as exc:
                failed.update(dict.fromkeys(batch, exc.reason))
                if exc.ends_round:
                    round_over = exc.reason
                continue
            got, bad = self._read(batch, records)
            found.update(got)
            failed.update(bad)
            absent.update(a for a in batch if a not in got and a not in bad)
        if failed:
            log.warning(
                "PeeringDB did not answer about %d of %d ASN(s): %s",
                len(failed),
                len(wanted),
                "; ".join(sorted(set(failed.values()))[:3]),
            )
        return RegistryFetch(found, frozenset(absent), failed, self.calls - calls_before)

    # ------------------------------------------------------------------ stages

    def _blocked(self) -> str:
        """The reason to ask nothing now (a long Retry-After still running), or ""."""
        with self._lock:
            left = self._blocked_until - self._clock()
            if left <= 0:
                return ""
            return f"{self._blocked_reason} ({left:.0f} s left)"

    def _pace(self) -> None:
        """Keep ``min_interval_s`` between the starts of two calls."""
        with self._lock:
            now = self._clock()
            wait = 0.0
            if self._last_call is not None:
                wait = self._last_call + self.settings.min_interval_s - now
            self._last_call = now + max(wait, 0.0)
        if wait > 0:
            self._sleep(wait)

    def _ask(self, batch: Sequence[Asn], *, patient: bool = True) -> list[Any]:
        """One batch's records, with the retries of stages 2 and 3 (none when not
        ``patient``)."""
        params = {
            "asn__in": ",".join(str(a.value) for a in batch),
            "depth": "0",
            "fields": FIELDS,
        }
        attempts = self.settings.retry_attempts if patient else 1
        reason = "no answer"
        for attempt in range(attempts):
            last = attempt == attempts - 1
            self._pace()
            self.calls += 1
            try:
                response = self._client.get("net", params=params)
            except httpx.TimeoutException:
                reason = f"PeeringDB did not answer within {self.settings.timeout_s:g} s"
            except httpx.TransportError as exc:
                reason = f"cannot reach PeeringDB: {type(exc).__name__}: {exc}"
            else:
                outcome = self._judge(response)
                if isinstance(outcome, list):
                    return outcome
                reason, wait = outcome
                if wait is not None and not last:
                    self._sleep(wait)
                    continue
            if last:
                break
            self._sleep(self.settings.backoff_s * (2**attempt))
        raise _CallFailed(reason)

    def _judge(self, response: httpx.Response) -> list[Any] | tuple[str, float | None]:
        """The records of a good answer, or (the reason, how long to wait before the
        retry: None for the back-off); raises _CallFailed when retrying cannot help."""
        status = response.status_code
        if status == 429:
            wait = retry_after_s(response.headers.get("Retry-After"))
            reason = "PeeringDB rate-limited the call (HTTP 429"
            reason += f", Retry-After {wait:.0f} s)" if wait is not None else ")"
            if wait is not None:  # every caller of this registry respects it, not only this one
                with self._lock:
                    self._blocked_until = max(self._blocked_until, self._clock() + wait)
                    self._blocked_reason = reason
            if wait is not None and wait > self.settings.max_retry_wait_s:
                raise _CallFailed(reason, ends_round=True)
            return reason, wait
        if status in (401, 403):
            raise _CallFailed(
                f"PeeringDB refused the call (HTTP {status}): check PEERINGDB_API_KEY",
                ends_round=True,
            )
        if status >= 500:
            return f"PeeringDB answered HTTP {status}", None
        if status != 200:
            raise _CallFailed(f"PeeringDB answered HTTP {status}")
        try:
            body = response.json()
        except ValueError:
            return "PeeringDB sent malformed JSON", None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            return "PeeringDB's answer has no data list", None
        return data

    def _read(
        self, batch: Sequence[Asn], records: list[Any]
    ) -> tuple[dict[Asn, NetworkFacts], dict[Asn, str]]:
        """Found and malformed ASNs of one answer; records of ASNs not asked are ignored."""
        asked = set(batch)
        found: dict[Asn, NetworkFacts] = {}
        bad: dict[Asn, str] = {}
        for record in records:
            asn = _asn_of(record)
            try:
                facts = parse_record(record, self._rule)
            except ValueError as exc:
                if asn is not None and asn in asked:
                    bad[asn] = f"PeeringDB sent a malformed record for {asn}: {exc}"
                else:
                    log.warning("PeeringDB sent a record without a usable asn: %s", exc)
                continue
            if facts.asn in asked and facts.asn not in bad:
                found.setdefault(facts.asn, facts)
        return found, bad
