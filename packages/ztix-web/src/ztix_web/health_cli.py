"""``ztix web-health``: probe a running web server's ``/healthz`` (container health checks,
systemd watchdogs, load balancers' scripts)."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request

from ztix_core.errors import SettingsError


class WebHealthCommand:
    """``ztix web-health [--url URL] [--timeout S]``: exit 0 healthy, 1 not."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's arguments."""
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8080/healthz",
            help="the server's health URL (http://127.0.0.1:8080/healthz)",
        )
        parser.add_argument("--timeout", type=float, default=5.0, help="seconds (5)")

    def run(self, args: argparse.Namespace) -> int:
        """Run the command; the exit code."""
        url: str = args.url
        if not url.startswith(("http://", "https://")):
            raise SettingsError("--url", f"{url!r}: must be an http:// or https:// URL")
        if not 0 < args.timeout <= 300:
            raise SettingsError("--timeout", "must be between 0 and 300 seconds")
        try:
            with urllib.request.urlopen(url, timeout=args.timeout) as response:
                body = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            print(f"web unhealthy: {url} answered {exc.code}")
            return 1
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            print(f"web unreachable: {url}: {reason}")
            return 1
        print(f"web healthy: {url} ({body.get('status', 'ok')})")
        return 0
