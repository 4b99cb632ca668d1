"""``python -m ztix_adapters_peeringdb.testing_idp.setup`` (run by the harness): reads one
JSON command on stdin and applies it to the provider's database.

* ``{"client": {"client_id", "client_secret", "redirect_uris": [...]}}`` registers (or
  updates) the confidential RS256 application, as an exchange registers ztix on PeeringDB;
* ``{"user": {"username", "password"}}`` creates or resets a user and prints its id.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    """Apply the command on stdin."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ztix_adapters_peeringdb.testing_idp.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from oauth2_provider.models import Application

    command = json.load(sys.stdin)
    if "client" in command:
        c = command["client"]
        app = Application.objects.filter(client_id=c["client_id"]).first() or Application(
            client_id=c["client_id"]
        )
        app.name = "ztix"
        app.client_secret = c["client_secret"]
        app.client_type = Application.CLIENT_CONFIDENTIAL
        app.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
        app.redirect_uris = " ".join(c["redirect_uris"])
        app.algorithm = Application.RS256_ALGORITHM
        # PeeringDB asks the user once; the tests sign in without the consent page.
        app.skip_authorization = True
        app.save()
        print(app.pk)
    if "user" in command:
        u = command["user"]
        user = User.objects.filter(username=u["username"]).first() or User(username=u["username"])
        user.set_password(u["password"])
        user.save()
        print(user.pk)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
