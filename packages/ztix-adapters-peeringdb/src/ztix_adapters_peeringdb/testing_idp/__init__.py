"""A PeeringDB-like OpenID Connect provider for tests and benchmarks.

django-oauth-toolkit (the OAuth server PeeringDB runs) with OIDC on, configured like
auth.peeringdb.com: RS256 id_tokens, PKCE, nonce, the scopes ``openid profile email
networks amr``, issuer ``<base>/oauth2`` and a ``/profile/v1`` view returning PeeringDB's
shape. :class:`~ztix_adapters_peeringdb.testing_idp.harness.LocalIdp` runs it as a gunicorn
subprocess with its own SQLite database in a temporary directory. Django and
django-oauth-toolkit come with the distribution's ``testing`` extra only; nothing outside
this package imports them.
"""
