"""``/account/notifications``: an operator chooses, per ASN, who gets the mail; every bad
input is refused with a clear message and changes nothing; the choice reaches the
deliveries the worker makes."""

from __future__ import annotations

import uuid

import pytest

from ztix_core.notify_ports import Channel
from ztix_core.records import Actor
from ztix_core.usecases.accounts import Accounts
from ztix_core.usecases.notify import NotificationDeliveries, NotificationTargets
from ztix_core.values import Asn

from .conftest import FAST_HASHER, Site, submit  # type: ignore[import-not-found]


def _with_email(site: Site, name: str, email: str) -> None:
    Accounts(site.core.uow_factory, site.clock, FAST_HASHER).update(
        Actor.system("test"), name, email=email
    )


def test_the_page_lists_each_asn_with_the_account_email_by_default(site: Site) -> None:
    _with_email(site, "opa", "noc@a.example.net")
    page = site.signed_in("opa").get("/account/notifications")
    assert page.status_code == 200
    assert "AS64500" in page.text and "AS64512" in page.text and "AS64501" not in page.text
    assert page.text.count("Gets mail: noc@a.example.net") == 2
    assert 'aria-current="page">Notifications' in page.text


def test_recipients_are_stored_shown_and_used(site: Site) -> None:
    _with_email(site, "opa", "noc@a.example.net")
    browser = site.signed_in("opa")
    browser.get("/account/notifications")
    result = browser.post(
        "/account/notifications",
        {"asn": "64500", "recipients": "peering@a.example.net,\nops@a.example.net"},
    )
    assert result.status_code == 200 and "Saved the recipients for AS64500" in result.text
    assert "Gets mail: peering@a.example.net, ops@a.example.net" in result.text
    assert "Gets mail: noc@a.example.net" in result.text  # AS64512 keeps the default
    rid = submit(site, "opa", 64500)
    site.core.workflow.reject(Actor.system("test"), uuid.UUID(rid), "no policy")
    deliveries = NotificationDeliveries(
        site.core.uow_factory, site.clock, NotificationTargets(email=True)
    )
    deliveries.expand()
    with site.core.uow_factory() as uow:
        (rejected,) = uow.notifications.intents("request.rejected")
        targets = sorted(d.target for d in uow.notifications.deliveries_for(rejected.id))
        assert all(
            d.channel is Channel.EMAIL for d in uow.notifications.deliveries_for(rejected.id)
        )
    assert targets == ["ops@a.example.net", "peering@a.example.net"]
    # blank: back to the account's email
    result = browser.post("/account/notifications", {"asn": "64500", "recipients": " "})
    assert result.text.count("Gets mail: noc@a.example.net") == 2


@pytest.mark.parametrize(
    ("values", "status", "message"),
    [
        ({"asn": "64500", "recipients": "not-an-address"}, 400, "is not an email address"),
        (
            {"asn": "64500", "recipients": "a@b.example, x@y\r\nBcc: z@q.example"},
            400,
            "is not an email address",
        ),
        (
            {"asn": "64500", "recipients": " ".join(f"u{i}@a.example.net" for i in range(11))},
            400,
            "at most 10 addresses",
        ),
        ({"asn": "64501", "recipients": "a@a.example.net"}, 422, "not linked to your account"),
        ({"asn": "AS-x", "recipients": "a@a.example.net"}, 400, "not an AS number"),
    ],
)
def test_bad_recipients_are_refused_and_change_nothing(
    site: Site, values: dict[str, str], status: int, message: str
) -> None:
    browser = site.signed_in("opa")
    browser.get("/account/notifications")
    before = site.counts()
    result = browser.post("/account/notifications", values)
    assert result.status_code == status, result.text
    assert message in result.text and 'role="alert"' in result.text
    assert site.counts() == before
    if values["asn"] == "64500":
        assert 'aria-invalid="true"' in result.text  # what was typed is kept, marked


def test_another_operators_choice_is_not_shown_or_changed(site: Site) -> None:
    browser = site.signed_in("opb")
    browser.get("/account/notifications")
    browser.post("/account/notifications", {"asn": "64501", "recipients": "b@b.example.net"})
    page = site.signed_in("opa").get("/account/notifications")
    assert "b@b.example.net" not in page.text
    with site.core.uow_factory() as uow:
        assert uow.notify_recipients.for_user(site.users["opa"].id) == {}
        assert uow.notify_recipients.for_user(site.users["opb"].id) == {
            Asn(64501): ("b@b.example.net",)
        }


def test_signed_out_is_sent_to_sign_in_and_csrf_is_required(site: Site) -> None:
    assert site.browser().get("/account/notifications").status_code == 303
    browser = site.signed_in("opa")
    browser.get("/account/notifications")
    before = site.counts()
    result = browser.post(
        "/account/notifications", {"asn": "64500", "recipients": "a@a.example.net"}, csrf=False
    )
    assert result.status_code == 403
    assert site.counts() == before
