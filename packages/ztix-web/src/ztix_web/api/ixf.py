"""The IX-F member export (``/participants.json``, ``/api/v1/ixf``), served from a cache.

The document is rebuilt only when a request has moved since it was built (one indexed
read per call tells: :meth:`~ztix_core.usecases.ixf.IxfExport.last_change`), and at the
latest every ``max_age_s`` for PeeringDB facts (names, as-sets, max-prefix) that change
outside ztix. ``ETag`` is a digest of the body and ``Last-Modified`` the last change, so a
client that sends ``If-None-Match`` / ``If-Modified-Since`` gets 304 without a body. The
cache also keeps the body gzipped (a 3,000-member export is about 1 MiB of JSON and a tenth
of that compressed), served to clients that accept it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import hashlib
import json
import threading
import time

import attrs

from ztix_core.usecases.ixf import IxfExport
from ztix_web.api.spec import Call, Reply

#: At most this old a cached document may be served, whatever happened since.
MAX_AGE_S = 300.0
#: The database is asked whether members changed at most this often: a change shows up
#: in the export at most a second late, and a busy export costs no query per call.
CHECK_EVERY_S = 1.0


@attrs.frozen
class _Cached:
    changed: dt.datetime | None
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str
    built: float


class IxfCache:
    """The export behind a cache; ``serve`` is the route's handler."""

    def __init__(
        self, export: IxfExport, max_age_s: float = MAX_AGE_S, check_every_s: float = CHECK_EVERY_S
    ) -> None:
        self.export = export
        self.max_age_s = max_age_s
        self.check_every_s = check_every_s
        self._checked = 0.0
        self._cached: _Cached | None = None
        self._lock = threading.Lock()
        #: How often the document was built (the benchmark and the tests read it).
        self.builds = 0

    def current(self) -> _Cached:
        """The cached document when it is still current, else a fresh one."""
        cached = self._cached
        now = time.monotonic()
        if (
            cached is not None
            and now - self._checked < self.check_every_s
            and now - cached.built < self.max_age_s
        ):
            return cached
        changed = self.export.last_change()
        self._checked = now
        if (
            cached is not None
            and cached.changed == changed
            and time.monotonic() - cached.built < self.max_age_s
        ):
            return cached
        with self._lock:
            cached = self._cached
            if (
                cached is not None
                and cached.changed == changed
                and (time.monotonic() - cached.built < self.max_age_s)
            ):
                return cached
            doc, changed = self.export.document()
            body = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")
            stamp = changed or dt.datetime.now(dt.UTC)
            fresh = _Cached(
                changed,
                body,
                gzip.compress(body, 6, mtime=0),
                '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                email.utils.format_datetime(stamp.astimezone(dt.UTC), usegmt=True),
                time.monotonic(),
            )
            self._cached = fresh
            self.builds += 1
            return fresh

    def serve(self, call: Call) -> Reply:
        """The export, or 304 when the client's copy is current."""
        doc = self.current()
        zipped = "gzip" in (call.req.get_header("Accept-Encoding") or "").lower()
        # Each encoding is its own representation, with its own strong ETag.
        etag = doc.etag[:-1] + '-gz"' if zipped else doc.etag
        headers = {
            "ETag": etag,
            "Last-Modified": doc.last_modified,
            "Cache-Control": "public, max-age=60",
            "Vary": "Accept-Encoding",
        }
        match = call.req.get_header("If-None-Match")
        if match is not None:
            if etag in [m.strip() for m in match.split(",")] or match.strip() == "*":
                return Reply(None, 304, headers, raw=True, body=b"")
        else:
            since = call.req.get_header("If-Modified-Since")
            parsed = _http_date(since) if since else None
            if parsed is not None and parsed >= _http_date(doc.last_modified):  # type: ignore[operator]
                return Reply(None, 304, headers, raw=True, body=b"")
        if zipped:
            headers["Content-Encoding"] = "gzip"
            return Reply(None, 200, headers, raw=True, body=doc.gzipped)
        return Reply(None, 200, headers, raw=True, body=doc.body)


def _http_date(value: str) -> dt.datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
