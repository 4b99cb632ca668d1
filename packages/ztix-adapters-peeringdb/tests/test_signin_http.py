"""Sign in with PeeringDB over HTTP against the real provider (django-oauth-toolkit): every
case asserts the users, the ASN links and the audit rows afterwards."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

import falcon.testing
import pytest

from ztix_adapters_peeringdb.testing_idp.signin import (
    CALLBACK,
    FAST_HASHER,
    Exchange,
    SignInDriver,
    net,
    new_person,
    profile,
)
from ztix_core.records import Actor
from ztix_core.usecases.accounts import Accounts
from ztix_core.usecases.peeringdb_signin import (
    NOT_VERIFIED_EMAIL,
    NOT_VERIFIED_USER,
    READ_ONLY,
)


def _state(started: falcon.testing.Result) -> str:
    """The state ztix put in the authorization URL."""
    query = urllib.parse.urlsplit(started.headers["location"]).query
    return dict(urllib.parse.parse_qsl(query))["state"]


def test_success_creates_the_user_links_write_networks_and_lists_read_only_ones(
    exchange: Exchange, driver: SignInDriver
) -> None:
    person = new_person(
        exchange.idp,
        profile(networks=[net(64500, 15, "Example Net"), net(64501, 1, "Other Net")]),
    )
    started = driver.start()
    anonymous = dict(driver.ztix.cookies)
    answer = driver.callback(driver.authorize(started.headers["location"], person.username))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/onboarding"
    # As a local sign-in: the session the sign-in started in ends, a new one begins.
    assert driver.ztix.cookies["__Host-ztix_session"] != anonymous["__Host-ztix_session"]
    assert driver.ztix.client.simulate_get("/onboarding", cookies=anonymous).status_code == 303

    user = exchange.user(person.peeringdb_id)
    assert user is not None
    assert user.username == f"pdb-{person.peeringdb_id}"
    assert (user.display_name, user.email) == ("Jane Doe", "jane@example.net")
    assert user.verified_user and user.email_verified and not user.is_admin
    assert exchange.links(user) == {64500: ("peeringdb", True)}
    assert exchange.actions() == ["account.created", "account.asn_linked", "auth.login"]
    login = exchange.audit()[-1]
    assert login.actor == f"user:{user.id}"
    assert login.metadata["method"] == "peeringdb" and login.metadata["ineligible"] == [64501]

    page = driver.ztix.get("/onboarding")
    assert page.status_code == 200
    assert 'value="64500"' in page.text  # eligible: a radio button
    assert 'value="64501"' not in page.text
    assert "AS64501" in page.text and "only read this network" in page.text


def _error(answer: falcon.testing.Result, status: int, code: str) -> None:
    """The error page: status, short code, and a "try again" back to the start."""
    assert answer.status_code == status, answer.text
    assert f'<span class="mono">{code}</span>' in answer.text, answer.text
    assert 'href="/login/peeringdb"' in answer.text


def _failed(exchange: Exchange, code: str, **detail: Any) -> None:
    """No user, and exactly one audited failure with ``code`` (and ``detail``)."""
    assert exchange.users() == []
    events = exchange.audit()
    assert [e.action for e in events] == ["auth.peeringdb_failed"]
    assert events[0].metadata["code"] == code
    assert events[0].actor.startswith("client:")
    for key, value in detail.items():
        assert events[0].metadata[key] == value


def test_a_later_sign_in_updates_name_and_email_and_keeps_the_links(
    exchange: Exchange, driver: SignInDriver
) -> None:
    person = new_person(exchange.idp, profile(networks=[net(64500, 15)]))
    assert driver.sign_in(person).status_code == 303
    exchange.idp.set_profile(
        person.username, profile("Jane Roe", email="roe@example.net", networks=[net(64500, 2)])
    )
    second = SignInDriver(exchange)
    assert second.sign_in(person).status_code == 303
    second.close()

    [user] = exchange.users()
    assert (user.display_name, user.email) == ("Jane Roe", "roe@example.net")
    assert exchange.links(user) == {64500: ("peeringdb", True)}
    assert exchange.actions() == [
        "account.created",
        "account.asn_linked",
        "auth.login",
        "account.updated",
        "auth.login",
    ]
    changes = exchange.audit()[3].metadata["changes"]
    assert changes == {"display_name": "Jane Roe", "email": "roe@example.net"}


def test_only_read_permission_networks_link_nothing(
    exchange: Exchange, driver: SignInDriver
) -> None:
    person = new_person(exchange.idp, profile(networks=[net(64500, 1), net(64501, 1)]))
    assert driver.sign_in(person).status_code == 303

    [user] = exchange.users()
    assert exchange.links(user) == {}
    assert exchange.actions() == ["account.created", "auth.login"]
    assert exchange.audit()[-1].metadata["ineligible"] == [64500, 64501]
    page = driver.ztix.get("/onboarding").text
    assert "No AS number linked to your account may join yet" in page
    assert page.count(READ_ONLY.split(":")[0]) == 2


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"verified_user": False}, NOT_VERIFIED_USER),
        ({"verified_email": False}, NOT_VERIFIED_EMAIL),
    ],
)
def test_an_unverified_user_or_email_links_nothing(
    exchange: Exchange, driver: SignInDriver, flags: dict[str, bool], reason: str
) -> None:
    body = profile(networks=[net(64500, 15)]) | flags
    person = new_person(exchange.idp, body)
    assert driver.sign_in(person).status_code == 303

    [user] = exchange.users()
    assert user.verified_user is flags.get("verified_user", True)
    assert user.email_verified is flags.get("verified_email", True)
    assert exchange.links(user) == {}
    assert exchange.actions() == ["account.created", "auth.login"]
    assert reason in driver.ztix.get("/onboarding").text


def test_a_network_removed_from_the_profile_is_unlinked_at_the_next_sign_in(
    exchange: Exchange, driver: SignInDriver
) -> None:
    person = new_person(exchange.idp, profile(networks=[net(64500, 15), net(64502, 4)]))
    assert driver.sign_in(person).status_code == 303
    [user] = exchange.users()
    # An admin's local link is not PeeringDB's to remove.

    Accounts(exchange.core.uow_factory, exchange.core.clock, FAST_HASHER).link_asn(
        Actor.system("test"), user.username or "", 64503
    )
    assert exchange.links(user) == {
        64500: ("peeringdb", True),
        64502: ("peeringdb", True),
        64503: ("local", False),
    }
    exchange.idp.set_profile(person.username, profile(networks=[net(64502, 1)]))
    second = SignInDriver(exchange)
    assert second.sign_in(person).status_code == 303
    second.close()

    assert exchange.links(user) == {64503: ("local", False)}
    unlinked = [e for e in exchange.audit() if e.action == "account.asn_unlinked"]
    assert [(e.metadata["asn"], e.metadata["reason"]) for e in unlinked] == [
        (64500, "no longer in the profile"),
        (64502, READ_ONLY),
    ]
    assert all(e.actor == f"user:{user.id}" for e in unlinked)
    assert exchange.actions()[-1] == "auth.login"


def test_a_replayed_or_unknown_state_is_refused_and_audited(
    exchange: Exchange, driver: SignInDriver
) -> None:
    person = new_person(exchange.idp, profile(networks=[net(64500, 15)]))
    started = driver.start()
    callback = driver.authorize(started.headers["location"], person.username)
    assert driver.callback(callback).status_code == 303
    before = (exchange.users(), exchange.actions())

    _error(driver.callback(callback), 400, "state_unknown")
    query = urllib.parse.urlencode({"state": "made-up", "code": "x"})
    _error(driver.callback(f"{CALLBACK}?{query}"), 400, "state_unknown")

    assert exchange.users() == before[0]
    refused = exchange.audit()[len(before[1]) :]
    assert [e.action for e in refused] == ["auth.peeringdb_state_refused"] * 2
    assert all(e.metadata["reason"] == "unknown" for e in refused)


def test_a_state_started_in_another_browser_is_refused(
    exchange: Exchange, driver: SignInDriver
) -> None:
    """Login CSRF: an attacker's own callback URL, sent to a victim, does not sign the
    victim in as the attacker."""
    attacker = new_person(exchange.idp, profile(networks=[net(64500, 15)]))
    started = driver.start()
    callback = driver.authorize(started.headers["location"], attacker.username)
    victim = SignInDriver(exchange)
    victim.ztix.get("/login")
    _error(victim.callback(callback), 400, "state_unknown")
    victim.close()

    assert exchange.users() == []
    [event] = exchange.audit()
    assert event.action == "auth.peeringdb_state_refused"
    assert event.metadata["reason"] == "not started in this browser"
    # The state is used up: the attacker cannot use it either.
    _error(driver.callback(callback), 400, "state_unknown")
    assert exchange.users() == []


def test_a_wrong_nonce_is_refused(exchange: Exchange, driver: SignInDriver) -> None:
    person = new_person(exchange.idp, profile(networks=[net(64500, 15)]))
    started = driver.start()
    parts = urllib.parse.urlsplit(started.headers["location"])
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["nonce"] = "not-the-nonce-ztix-sent"
    tampered = parts._replace(query=urllib.parse.urlencode(query)).geturl()
    _error(driver.callback(driver.authorize(tampered, person.username)), 502, "id_token_invalid")
    _failed(exchange, "id_token_invalid", reason="claim_nonce")


@pytest.mark.parametrize(
    ("mode", "reason"), [("rogue_key", "unknown_key"), ("forged", "bad_signature")]
)
def test_an_id_token_signed_by_another_key_is_refused(
    exchange: Exchange, driver: SignInDriver, mode: str, reason: str
) -> None:
    person = new_person(exchange.idp, profile(networks=[net(64500, 15)]))
    exchange.idp.set_control({"id_token": mode})
    _error(driver.sign_in(person), 502, "id_token_invalid")
    _failed(exchange, "id_token_invalid", reason=reason)
    flow = exchange.extensions[0].flow
    # An unknown kid fetches the JWKS once more (a rotated key), then gives up.
    assert flow.oidc.jwks_fetches == (2 if mode == "rogue_key" else 1)


def test_an_expired_id_token_is_refused(exchange: Exchange, driver: SignInDriver) -> None:
    person = new_person(exchange.idp, profile(networks=[net(64500, 15)]))
    exchange.idp.set_control({"id_token": "expired"})
    _error(driver.sign_in(person), 502, "id_token_invalid")
    _failed(exchange, "id_token_invalid", reason="expired")


def test_the_provider_answering_500_on_the_token_call(
    exchange: Exchange, driver: SignInDriver
) -> None:
    person = new_person(exchange.idp, profile(networks=[net(64500, 15)]))
    started = driver.start()
    callback = driver.authorize(started.headers["location"], person.username)
    exchange.idp.set_control({"faults": [{"prefix": "/oauth2/token/", "status": 500}]})
    _error(driver.callback(callback), 502, "provider_error")
    _failed(exchange, "provider_error", step="token", status=500)


def test_the_provider_down_when_the_sign_in_starts(
    exchange: Exchange, driver: SignInDriver
) -> None:
    exchange.idp.set_control({"faults": [{"prefix": "/oauth2/.well-known", "status": 500}]})
    _error(driver.start(), 502, "provider_error")
    _failed(exchange, "provider_error", step="discovery")
    with exchange.core.uow_factory() as uow:
        assert uow.oauth_states.purge_expired(exchange.core.clock.now()) == 0


def test_the_provider_timing_out_on_the_token_call(exchange_factory: Any, idp: Any) -> None:
    exchange = exchange_factory(timeout_s=1.0)
    driver = SignInDriver(exchange)
    person = new_person(idp, profile(networks=[net(64500, 15)]))
    started = driver.start()
    callback = driver.authorize(started.headers["location"], person.username)
    idp.set_control({"faults": [{"prefix": "/oauth2/token/", "hang_s": 60}]})
    _error(driver.callback(callback), 502, "provider_timeout")
    idp.set_control({})
    driver.close()
    _failed(exchange, "provider_timeout", step="token")


def test_an_error_in_the_callback(exchange: Exchange, driver: SignInDriver) -> None:
    started = driver.start()
    state = _state(started)
    query = urllib.parse.urlencode({"state": state, "error": "access_denied"})
    answer = driver.callback(f"{CALLBACK}?{query}")
    _error(answer, 502, "provider_refused")
    assert "you declined" in answer.text
    _failed(exchange, "provider_refused", error="access_denied")


def test_a_refused_token_exchange(
    exchange: Exchange, driver: SignInDriver, caplog: pytest.LogCaptureFixture
) -> None:
    started = driver.start()
    state = _state(started)
    code = "a-code-the-provider-never-issued"
    query = urllib.parse.urlencode({"state": state, "code": code})
    with caplog.at_level("WARNING", logger="ztix_adapters_peeringdb"):
        _error(driver.callback(f"{CALLBACK}?{query}"), 502, "token_refused")
    _failed(exchange, "token_refused", error="invalid_grant", status=400)
    # Logged with its code, without the code, the state or the client secret.
    assert "code=token_refused" in caplog.text
    for secret in (code, state, exchange.idp.client_secret):
        assert secret not in caplog.text
        assert secret not in str(exchange.audit()[0].metadata)


def test_a_disabled_account_is_refused_and_left_as_it_is(
    exchange: Exchange, driver: SignInDriver
) -> None:
    person = new_person(exchange.idp, profile(networks=[net(64500, 15)]))
    assert driver.sign_in(person).status_code == 303
    [user] = exchange.users()

    Accounts(exchange.core.uow_factory, exchange.core.clock, FAST_HASHER).disable(
        Actor.system("test"), user.username or ""
    )
    exchange.idp.set_profile(person.username, profile("Changed", networks=[]))
    second = SignInDriver(exchange)
    _error_403 = second.sign_in(person)
    second.close()
    assert _error_403.status_code == 403
    assert "account_disabled" in _error_403.text

    [after] = exchange.users()
    assert after.display_name == "Jane Doe" and after.disabled
    assert exchange.links(after) == {64500: ("peeringdb", True)}
    assert exchange.actions()[-1] == "auth.peeringdb_failed"
    assert exchange.audit()[-1].metadata["code"] == "account_disabled"


def test_local_login_switched_off(exchange_factory: Callable[..., Exchange]) -> None:
    exchange = exchange_factory(local_login=False)
    driver = SignInDriver(exchange)
    page = driver.ztix.get("/login")
    assert "Sign in with PeeringDB" in page.text
    assert 'action="/login"' not in page.text and 'name="password"' not in page.text
    refused = driver.ztix.post("/login", {"username": "admin", "password": "x" * 20})
    assert refused.status_code == 403 and "local_login_disabled" in refused.text
    driver.close()
    assert exchange.users() == [] and exchange.actions() == []


def test_two_sign_ins_started_in_one_browser_the_first_still_finishes(
    exchange: Exchange, driver: SignInDriver
) -> None:
    """Two tabs (or a double click): the earlier state is still this browser's."""
    person = new_person(exchange.idp, profile(networks=[net(64500, 15)]))
    first = driver.start()
    second = driver.ztix.get("/login/peeringdb")
    assert second.status_code == 303 and _state(second) != _state(first)
    callback = driver.authorize(first.headers["location"], person.username)
    assert driver.callback(callback).status_code == 303
    [user] = exchange.users()
    assert exchange.links(user) == {64500: ("peeringdb", True)}
    assert exchange.actions() == ["account.created", "account.asn_linked", "auth.login"]
