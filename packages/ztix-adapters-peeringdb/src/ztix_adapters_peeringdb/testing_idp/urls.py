"""URLs as on auth.peeringdb.com: ``/oauth2/…`` (DOT and OIDC) and ``/profile/v1``."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from ztix_adapters_peeringdb.testing_idp import views

urlpatterns = [
    path("oauth2/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("profile/v1", views.ProfileView.as_view(), name="profile"),
    path("account/login/", auth_views.LoginView.as_view(), name="login"),
    path("ready", views.ready, name="ready"),
]
