"""Django settings of the test provider; everything it needs sits in ``ZTIX_IDP_DIR``."""

from __future__ import annotations

import os
from pathlib import Path

DIR = Path(os.environ["ZTIX_IDP_DIR"])
HERE = Path(__file__).parent

SECRET_KEY = (DIR / "django-secret").read_text(encoding="utf-8").strip()
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "ztix_adapters_peeringdb.testing_idp.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]
MIDDLEWARE = [
    "ztix_adapters_peeringdb.testing_idp.views.FaultMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [str(HERE / "templates")],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DIR / "idp.db")}}
# Fast hashing: the provider's own passwords are test fixtures.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/account/login/"
SESSION_COOKIE_NAME = "idp_session"
CSRF_COOKIE_NAME = "idp_csrf"
LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "WARNING"}},
}

# As auth.peeringdb.com: code 60 s, access token 36,000 s, PKCE offered but not required.
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": (DIR / "signing-key.pem").read_text(encoding="utf-8"),
    "PKCE_REQUIRED": False,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 36000,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "SCOPES": {
        "openid": "OpenID Connect",
        "profile": "user profile",
        "email": "email address",
        "networks": "list of user networks and permissions",
        "amr": "authentication methods",
    },
    "DEFAULT_SCOPES": ["openid", "profile"],
    "OAUTH2_VALIDATOR_CLASS": "ztix_adapters_peeringdb.testing_idp.views.PeeringDbValidator",
}
