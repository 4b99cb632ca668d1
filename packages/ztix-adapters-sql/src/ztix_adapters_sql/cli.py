"""``ztix db upgrade`` and ``ztix db current``.

``upgrade`` is the only command that creates a SQLite database (and its directory);
``current`` only reads, and says "no database at …" when the file does not exist.
"""

from __future__ import annotations

import argparse
import sys

from alembic.util import CommandError

from ztix_adapters_sql.engine import NoDatabase, normalise_url, safe_url
from ztix_adapters_sql.migrate import current_revision, head_revision, upgrade
from ztix_core.bootstrap import configured_networks
from ztix_core.memory.clock import SystemClock
from ztix_core.plugins import Plugins
from ztix_core.settings import Settings, load_settings
from ztix_core.usecases.networks import sync_networks


class DbCommand:
    """``ztix db``: migrate the schema or show where it stands."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="db_command", metavar="ACTION")
        sub.add_parser("upgrade", help="upgrade the schema to the newest revision")
        sub.add_parser(
            "current",
            help="show the schema revision (exit 1 when behind or missing; creates nothing)",
        )

    def run(self, args: argparse.Namespace) -> int:
        action = getattr(args, "db_command", None)
        if action not in ("upgrade", "current"):
            print("usage: ztix db {upgrade,current}")
            return 2
        settings = load_settings(args.config)
        url = settings.database_url
        normalise_url(url)  # a bad URL stops here with a message naming database_url
        if action == "upgrade":
            try:
                before, after = upgrade(url)
            except CommandError as exc:  # e.g. a revision this ztix does not know
                print(f"ztix: error: {safe_url(url)}: {exc}", file=sys.stderr)
                return 2
            if before == after:
                print(f"{safe_url(url)}: already at {after}")
            else:
                print(f"{safe_url(url)}: upgraded from {before or 'empty'} to {after}")
            self._sync_networks(settings, args)
            return 0
        try:
            current = current_revision(url)
        except NoDatabase as exc:
            print(exc)
            return 1
        head = head_revision()
        if current == head:
            print(f"{safe_url(url)}: {current} (head)")
            return 0
        print(f"{safe_url(url)}: {current or 'empty'}, behind head {head}; run `ztix db upgrade`")
        return 1

    @staticmethod
    def _sync_networks(settings: Settings, args: argparse.Namespace) -> None:
        """The settings are the source of truth for the exchange networks: the freshly
        migrated database follows them (a change that would strand members raises
        Conflict, unwritten, and the CLI prints it)."""
        if settings.storage != "sql" or not settings.networks:
            return
        plugins: Plugins = args.plugins
        factory = plugins.select("storage_backends", "sql", "ZTIX_STORAGE").factory(settings)
        synced = sync_networks(factory, SystemClock(), configured_networks(settings))
        for line in synced.lines():
            print(line)
