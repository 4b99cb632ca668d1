"""The ``[notifications]`` settings: retry schedule, admin recipients, SMTP, webhooks.

Secrets never come from the TOML file: the SMTP password from ``ZTIX_SMTP_PASSWORD``,
``ZTIX_SMTP_PASSWORD_FILE`` or the table's ``password_file``; each webhook's signing
secret from ``ZTIX_WEBHOOK_<NAME>_SECRET`` or ``ZTIX_WEBHOOK_<NAME>_SECRET_FILE`` (the
endpoint's name upper-cased, ``-`` as ``_``). Every bad value is a SettingsError naming
it; :func:`load_notification_settings` reports all of them at once.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ztix_core.errors import SettingsError
from ztix_core.notifications import EVENTS, RetrySchedule, valid_email
from ztix_core.settings import Settings, gather_errors, settings_errors
from ztix_core.usecases.notify import NotificationTargets, WebhookTarget

SECTION = "notifications"
SMTP_PASSWORD_ENV = "ZTIX_SMTP_PASSWORD"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SECURITY = ("starttls", "tls", "none")


@attrs.frozen
class EmailSettings:
    """How mail leaves: an SMTP server, STARTTLS by default (``tls``: implicit TLS, as on
    port 465; ``none``: only to a server on this machine). ``ca_file`` adds a CA to trust
    (a private CA); the system's CAs are trusted either way."""

    host: str
    sender: str
    port: int = 587
    security: str = "starttls"
    user: str = ""
    password: str | None = attrs.field(default=None, repr=False)
    ca_file: str = ""
    timeout_s: float = 10.0


@attrs.frozen
class WebhookSettings:
    """A webhook endpoint: POSTed JSON, signed with HMAC-SHA256 of ``timestamp + "." +
    body`` under ``secret``; ``events`` limits what it gets (every event when empty)."""

    name: str
    url: str
    secret: str = attrs.field(repr=False)
    events: frozenset[str] = frozenset()
    timeout_s: float = 10.0


@attrs.frozen
class NotificationSettings:
    """Everything the notification loop needs, secrets resolved."""

    email: EmailSettings | None = None
    webhooks: tuple[WebhookSettings, ...] = ()
    admin_emails: tuple[str, ...] = ()
    schedule: RetrySchedule = attrs.field(factory=RetrySchedule)
    interval_s: float = 1.0
    concurrency: int = 4

    @property
    def enabled(self) -> bool:
        return self.email is not None or bool(self.webhooks)

    def targets(self) -> NotificationTargets:
        """Who the core may expand intents to."""
        return NotificationTargets(
            email=self.email is not None,
            admin_emails=self.admin_emails,
            webhooks=tuple(WebhookTarget(w.name, w.events) for w in self.webhooks),
        )

    def webhook(self, name: str) -> WebhookSettings | None:
        return next((w for w in self.webhooks if w.name == name), None)


@attrs.frozen
class EmailTable:
    """``[notifications.email]`` as written: email is on when this table is present."""

    #: The SMTP server's host name.
    host: str
    #: The From address of every message.
    sender: str
    #: The SMTP server's port.
    port: int = 587
    #: ``starttls`` (required of the server, its certificate verified), ``tls`` (implicit
    #: TLS, as on port 465) or ``none`` (only to a server on this machine).
    security: str = "starttls"
    #: Log in as this user (the password is then required: ``ZTIX_SMTP_PASSWORD``,
    #: ``ZTIX_SMTP_PASSWORD_FILE`` or ``password_file``).
    user: str = ""
    #: A file holding the SMTP password.
    password_file: str = ""
    #: A PEM file of CAs to trust besides the system's (a private CA).
    ca_file: str = ""
    #: Seconds per SMTP operation.
    timeout_s: float = 10.0


@attrs.frozen
class WebhookTable:
    """One ``[[notifications.webhooks]]`` endpoint as written; its signing secret is
    ``ZTIX_WEBHOOK_<NAME>_SECRET`` or ``ZTIX_WEBHOOK_<NAME>_SECRET_FILE``."""

    #: 1 to 63 of a-z, 0-9, ``-``, ``_``; unique; names the secret's variable.
    name: str
    #: ``https://`` (plain ``http://`` only to this machine).
    url: str
    #: The events it gets (every event when empty).
    events: tuple[str, ...] = ()
    #: Seconds per call.
    timeout_s: float = 10.0


@attrs.frozen
class NotificationsTable:
    """Email and signed webhooks about requests and the exchange's health, delivered by
    the worker with retries (see docs/ops-runbook.md, Notifications)."""

    #: Who gets the admins' mail; empty: every admin account's email (not disabled).
    admin_emails: tuple[str, ...] = ()
    #: Seconds before the first retry of a failed delivery; it doubles after each failure.
    first_delay_s: float = 30.0
    #: The longest wait between two attempts.
    max_delay_s: float = 1800.0
    #: A delivery is given up (audited ``notification.gave_up``) after this many attempts.
    max_attempts: int = 60
    #: ... or once it is this many seconds old, whichever comes first.
    max_age_s: float = 86400.0
    #: How often the worker looks for new notifications and due retries (seconds).
    interval_s: float = 1.0
    #: Attempts in flight at once (one endpoint never holds more than one).
    concurrency: int = 4
    #: SMTP settings; absent: no email.
    email: EmailTable | None = None
    #: Webhook endpoints.
    webhooks: tuple[WebhookTable, ...] = ()


def webhook_secret_env(name: str) -> str:
    """``ZTIX_WEBHOOK_<NAME>_SECRET`` for an endpoint's name."""
    return f"ZTIX_WEBHOOK_{name.upper().replace('-', '_')}_SECRET"


def _secret_from(env: Mapping[str, str], name: str, path_key: str = "", path: str = "") -> str:
    """The secret in ``$name``, ``$name_FILE`` or ``path`` (exactly one of them)."""
    file_env = f"{name}_FILE"
    given = [k for k, v in ((name, env.get(name)), (file_env, env.get(file_env))) if v]
    if path:
        given.append(path_key)
    if len(given) > 1:
        raise SettingsError(given[0], f"set one of {', '.join(given)}, not several")
    if env.get(name):
        return env[name].strip()
    file_name = env.get(file_env) or path
    if not file_name:
        return ""
    try:
        return Path(file_name).read_text().strip()
    except OSError as exc:
        raise SettingsError(
            file_env if env.get(file_env) else path_key,
            f"cannot read {file_name}: {exc.strerror}",
        ) from None


def _number(
    raw: Mapping[str, Any], key: str, where: str, default: float, *, whole: bool = False
) -> Any:
    value = raw.get(key, default)
    ok = isinstance(value, int) if whole else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or value <= 0:
        kind = "a positive whole number" if whole else "a positive number"
        raise SettingsError(f"{where}.{key}", f"must be {kind}, got {value!r}")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unknown(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(raw) - known)
    if "password" in extra or "secret" in extra:
        raise SettingsError(
            f"{where}.{'password' if 'password' in extra else 'secret'}",
            "secrets are read from the environment or a file, not the config file",
        )
    if extra:
        raise SettingsError(where, f"unknown key(s): {', '.join(extra)}")


def _email(raw: Any, env: Mapping[str, str]) -> EmailSettings:
    where = f"{SECTION}.email"
    if not isinstance(raw, dict):
        raise SettingsError(where, "must be a table")
    _unknown(
        raw,
        {"host", "port", "sender", "security", "user", "password_file", "ca_file", "timeout_s"},
        where,
    )
    host = raw.get("host")
    if not isinstance(host, str) or not host.strip():
        raise SettingsError(f"{where}.host", "missing: the SMTP server's host name")
    sender = raw.get("sender")
    if not isinstance(sender, str) or not valid_email(sender):
        raise SettingsError(f"{where}.sender", f"must be an email address, got {sender!r}")
    port = _number(raw, "port", where, 587, whole=True)
    if port > 65535:
        raise SettingsError(f"{where}.port", f"must be 1 to 65535, got {port}")
    security = raw.get("security", "starttls")
    if security not in _SECURITY:
        raise SettingsError(f"{where}.security", f"must be one of {', '.join(_SECURITY)}")
    user = raw.get("user", "")
    if not isinstance(user, str):
        raise SettingsError(f"{where}.user", "must be a string")
    password = _secret_from(
        env, SMTP_PASSWORD_ENV, f"{where}.password_file", raw.get("password_file", "")
    )
    if user and not password:
        raise SettingsError(
            SMTP_PASSWORD_ENV,
            f"{where}.user is set: give its password in {SMTP_PASSWORD_ENV}, "
            f"{SMTP_PASSWORD_ENV}_FILE or {where}.password_file",
        )
    if security == "none" and not _loopback(host):
        raise SettingsError(
            f"{where}.security",
            f"'none' sends mail (and any password) in clear: only for a server on this "
            f"machine, not {host}; use starttls or tls",
        )
    ca_file = raw.get("ca_file", "")
    if ca_file and not Path(ca_file).is_file():
        raise SettingsError(f"{where}.ca_file", f"{ca_file} is not a readable file")
    timeout = _number(raw, "timeout_s", where, 10.0)
    return EmailSettings(
        host, sender, port, security, user, password or None, ca_file, float(timeout)
    )


def _webhook(index: int, raw: Any, env: Mapping[str, str]) -> WebhookSettings:
    where = f"{SECTION}.webhooks[{index}]"
    if not isinstance(raw, dict):
        raise SettingsError(where, "must be a table ([[notifications.webhooks]])")
    _unknown(raw, {"name", "url", "events", "timeout_s"}, where)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SettingsError(f"{where}.name", f"must be 1-63 of a-z, 0-9, '-', '_' (got {name!r})")
    url = raw.get("url")
    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if (
        not isinstance(url, str)
        or parsed is None
        or parsed.scheme not in ("http", "https")
        or not parsed.hostname
    ):
        raise SettingsError(f"{where}.url", f"must be an http(s) URL, got {url!r}")
    if parsed.scheme == "http" and not _loopback(parsed.hostname):
        raise SettingsError(f"{where}.url", "must be https (plain http only to this machine)")
    events = raw.get("events", [])
    if not isinstance(events, list) or any(e not in EVENTS for e in events):
        bad = [e for e in events if e not in EVENTS] if isinstance(events, list) else events
        raise SettingsError(
            f"{where}.events", f"unknown event(s) {bad!r}; known: {', '.join(sorted(EVENTS))}"
        )
    secret_env = webhook_secret_env(name)
    secret = _secret_from(env, secret_env)
    if not secret:
        raise SettingsError(
            secret_env,
            f"webhook {name!r} needs a signing secret in {secret_env} or {secret_env}_FILE",
        )
    if len(secret) < 16:
        raise SettingsError(secret_env, "must be at least 16 characters")
    timeout = _number(raw, "timeout_s", where, 10.0)
    return WebhookSettings(name, url, secret, frozenset(events), float(timeout))


def load_notification_settings(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> NotificationSettings:
    """The ``[notifications]`` table with its secrets; nothing configured is fine (no
    deliveries). Raises SettingsError (SettingsErrors listing each) for every bad key."""
    env = os.environ if environ is None else environ
    raw = settings.sections.get(SECTION, {})
    found: dict[str, Any] = {}

    def part(key: str, build: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            found[key] = build()

        return run

    def schedule() -> RetrySchedule:
        first = _number(raw, "first_delay_s", SECTION, 30.0)
        cap = _number(raw, "max_delay_s", SECTION, 1800.0)
        if cap < first:
            raise SettingsError(
                f"{SECTION}.max_delay_s", f"must be at least first_delay_s ({first})"
            )
        return RetrySchedule(
            float(first),
            float(cap),
            _number(raw, "max_attempts", SECTION, 60, whole=True),
            float(_number(raw, "max_age_s", SECTION, 86400.0)),
        )

    def admins() -> tuple[str, ...]:
        value = raw.get("admin_emails", [])
        if not isinstance(value, list) or not all(
            isinstance(a, str) and valid_email(a) for a in value
        ):
            raise SettingsError(
                f"{SECTION}.admin_emails", f"must be a list of email addresses, got {value!r}"
            )
        return tuple(value)

    def webhooks() -> tuple[WebhookSettings, ...]:
        value = raw.get("webhooks", [])
        if not isinstance(value, list):
            raise SettingsError(f"{SECTION}.webhooks", "must be an array of tables")
        errors: list[SettingsError] = []
        out = []
        for i, item in enumerate(value):
            try:
                out.append(_webhook(i, item, env))
            except SettingsError as exc:
                errors.extend(settings_errors(exc))
        names = [w.name for w in out]
        for name in sorted({n for n in names if names.count(n) > 1}):
            errors.append(SettingsError(f"{SECTION}.webhooks", f"name {name!r} is used twice"))
        gather_errors(*(lambda e=e: _raise(e) for e in errors))
        return tuple(out)

    def known_keys() -> None:
        _unknown(
            raw,
            {
                "email",
                "webhooks",
                "admin_emails",
                "first_delay_s",
                "max_delay_s",
                "max_attempts",
                "max_age_s",
                "interval_s",
                "concurrency",
            },
            SECTION,
        )

    gather_errors(
        known_keys,
        part("schedule", schedule),
        part("admin_emails", admins),
        part("webhooks", webhooks),
        part("email", lambda: _email(raw["email"], env) if "email" in raw else None),
        part("interval_s", lambda: float(_number(raw, "interval_s", SECTION, 1.0))),
        part("concurrency", lambda: _number(raw, "concurrency", SECTION, 4, whole=True)),
    )
    return NotificationSettings(**found)


def _raise(error: SettingsError) -> None:
    raise error
