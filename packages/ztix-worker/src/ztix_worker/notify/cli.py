"""``ztix notifications``: what the settings configure and how deliveries stand."""

from __future__ import annotations

import argparse
import datetime as dt
import urllib.parse

from ztix_core.bootstrap import bootstrap
from ztix_core.notify_ports import DeliveryStatus
from ztix_core.settings import load_settings
from ztix_core.usecases.notify import NotificationDeliveries
from ztix_worker.notify.settings import load_notification_settings


class NotificationsCommand:
    """Prints the configured channels (never a secret), the deliveries per status and
    the deliveries given up within ``--since-hours``; exit 1 when there are any (for
    monitoring), else 0."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--recent", type=int, default=20, help="list at most this many given-up deliveries"
        )
        parser.add_argument(
            "--since-hours",
            type=float,
            default=24.0,
            help="given-up deliveries of the last N hours count (default 24)",
        )

    def run(self, args: argparse.Namespace) -> int:
        settings = load_settings(args.config)
        ns = load_notification_settings(settings)
        app = bootstrap(settings, args.plugins, with_provisioning=False)
        if ns.email is not None:
            e = ns.email
            login = f", user {e.user}" if e.user else ""
            print(f"email: {e.host}:{e.port} ({e.security}{login}), from {e.sender}")
        else:
            print("email: off (no [notifications.email])")
        admins = ", ".join(ns.admin_emails) or "the admin accounts' emails"
        print(f"admin recipients: {admins}")
        for w in ns.webhooks:
            events = ", ".join(sorted(w.events)) or "every event"
            print(f"webhook {w.name}: {_shown(w.url)} ({events})")
        counts = NotificationDeliveries(app.uow_factory, app.clock, ns.targets()).counts()
        print("deliveries: " + ", ".join(f"{s.value} {counts[s]}" for s in DeliveryStatus))
        since = app.clock.now() - dt.timedelta(hours=args.since_hours)
        with app.uow_factory() as uow:
            gave_up = [
                e
                for e in uow.audit.recent(args.recent, action="notification.gave_up")
                if e.at >= since
            ]
        for event in gave_up:
            m = event.metadata
            print(
                f"gave up {event.at:%Y-%m-%d %H:%M:%S} {m.get('event')} via "
                f"{m.get('channel')} to {m.get('target')} after {m.get('attempts')} "
                f"attempts: {m.get('error')}"
            )
        return 1 if gave_up else 0


def _shown(url: str) -> str:
    """The URL without user info or query (either may carry a token)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
