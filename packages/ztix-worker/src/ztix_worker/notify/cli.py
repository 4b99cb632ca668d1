"""``ztix notifications``: what the settings configure and how deliveries stand."""

from __future__ import annotations

import argparse

from ztix_core.bootstrap import bootstrap
from ztix_core.notify_ports import DeliveryStatus
from ztix_core.settings import load_settings
from ztix_core.usecases.notify import NotificationDeliveries
from ztix_worker.notify.settings import load_notification_settings


class NotificationsCommand:
    """Prints the configured channels (never a secret), the deliveries per status and
    the latest given-up ones; exit 1 when any delivery was given up in that list."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--recent", type=int, default=10, help="how many given-up deliveries to list"
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
            print(f"webhook {w.name}: {w.url} ({events})")
        counts = NotificationDeliveries(app.uow_factory, app.clock, ns.targets()).counts()
        print("deliveries: " + ", ".join(f"{s.value} {counts[s]}" for s in DeliveryStatus))
        with app.uow_factory() as uow:
            gave_up = uow.audit.recent(args.recent, action="notification.gave_up")
        for event in gave_up:
            m = event.metadata
            print(
                f"gave up {event.at:%Y-%m-%d %H:%M:%S} {m.get('event')} via "
                f"{m.get('channel')} to {m.get('target')} after {m.get('attempts')} "
                f"attempts: {m.get('error')}"
            )
        return 1 if gave_up else 0
