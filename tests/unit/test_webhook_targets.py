"""Webhook URLs that could reach kindred's own network are refused; signatures follow the
Standard Webhooks spec."""

from __future__ import annotations

import pytest

from service.adapters.webhook_http import UnsafeTarget, check_url, is_public
from service.domain.webhook_signing import headers, new_secret, signature


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/hook",  # plain http
        "https://user:pw@93.184.215.14/hook",  # credentials in the URL
        "https://localhost/hook",
        "https://127.0.0.1/hook",
        "https://127.1/hook",  # short loopback spelling
        "https://2130706433/hook",  # loopback as one number
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",  # IPv4 loopback inside IPv6
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://10.0.0.8/hook",
        "https://192.168.1.1/hook",
        "https://100.64.0.1/hook",  # shared address space
        "https://0.0.0.0/hook",
        "https://[fe80::1]/hook",
        "https://224.0.0.1/hook",  # multicast
        "https://no-such-host.invalid/hook",
        "ftp://93.184.215.14/hook",
    ],
)
def test_internal_or_odd_targets_are_refused(url):
    with pytest.raises(UnsafeTarget):
        check_url(url)


def test_a_public_https_address_is_accepted_and_pinned():
    assert check_url("https://93.184.215.14:8443/hook") == (
        "https",
        "93.184.215.14",
        8443,
        "93.184.215.14",
    )


def test_private_targets_only_when_explicitly_allowed():
    assert check_url("http://127.0.0.1:9/hook", allow_private=True)[3] == "127.0.0.1"


def test_ipv4_hidden_in_ipv6_is_judged_by_the_ipv4_inside():
    assert not is_public("::ffff:10.0.0.1")
    assert not is_public("2002:7f00:1::")  # 6to4 of 127.0.0.1
    assert is_public("2606:4700::1111")


def test_signature_matches_the_standard_webhooks_example():
    # The example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_headers_carry_id_timestamp_and_signature():
    secret = new_secret()
    assert secret.startswith("whsec_") and secret != new_secret()
    sent = headers(secret, "msg_1", 1700000000, b"{}")
    assert sent["webhook-id"] == "msg_1" and sent["webhook-timestamp"] == "1700000000"
    assert sent["webhook-signature"] == signature(secret, "msg_1", 1700000000, b"{}")
