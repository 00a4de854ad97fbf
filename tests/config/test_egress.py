"""The egress policy: inward addresses refused unless listed, public ones open, checked
again before each call so a name that turns inward later is refused."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

import pytest

from loopml.config import load_settings
from loopml.config.egress import EgressPolicy, inward
from loopml.errors import ValidationError

INWARD = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.7/",
    "http://192.168.1.1:3000/",
    "http://[::1]:9000/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0:5432/",
    "http://[fe80::1]/",
]


def fixed(*addresses: str) -> object:
    def resolve(host: str, port: int) -> Sequence[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize("url", INWARD)
def test_a_server_refuses_every_inward_address(url: str) -> None:
    policy = EgressPolicy(private_ok=False)
    with pytest.raises(ValidationError, match="webhook_hosts"):
        policy.check_url(url)
    with pytest.raises(ValidationError, match="webhook_hosts"):
        policy.check_call(url)


def test_public_addresses_pass_and_a_local_workspace_calls_anything() -> None:
    server = EgressPolicy(private_ok=False, resolver=fixed("93.184.216.34"))
    server.check_url("https://hooks.example.com/x")
    server.check_call("https://hooks.example.com/x")
    server.check_call("http://8.8.8.8/")
    EgressPolicy().check_call("http://127.0.0.1:1/")


def test_a_name_that_turns_inward_after_it_was_configured_is_refused_at_the_call() -> None:
    answers = ["93.184.216.34"]
    policy = EgressPolicy(private_ok=False, resolver=lambda host, port: list(answers))
    policy.check_url("http://rebind.example.com/hook")
    answers[:] = ["93.184.216.34", "127.0.0.1"]
    with pytest.raises(ValidationError, match=r"127\.0\.0\.1"):
        policy.check_call("http://rebind.example.com/hook")


def test_an_unresolvable_name_waits_for_the_call_and_is_refused_there() -> None:
    def fail(host: str, port: int) -> Sequence[str]:
        raise OSError("no such host")

    policy = EgressPolicy(private_ok=False, resolver=fail)
    policy.check_url("http://nowhere.invalid/")
    with pytest.raises(ValidationError, match="cannot resolve"):
        policy.check_call("http://nowhere.invalid/")


def test_listed_hosts_pass_by_name_port_and_domain_pattern() -> None:
    policy = EgressPolicy(("127.0.0.1:8080", "*.corp.internal", "[::1]"), private_ok=False)
    policy.check_call("http://127.0.0.1:8080/hook")
    with pytest.raises(ValidationError):
        policy.check_call("http://127.0.0.1:8081/hook")  # another port on the same host
    policy.check_url("http://[::1]:1234/")
    on_corp = EgressPolicy(("*.corp.internal",), private_ok=False, resolver=fixed("10.1.1.1"))
    on_corp.check_call("https://alerts.corp.internal/x")
    with pytest.raises(ValidationError):
        on_corp.check_call("https://corp.internal.evil.example/x")


def test_settings_take_a_comma_separated_host_list(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path,
        environ={
            "LOOPML_WEBHOOK_HOSTS": "a.example:81, *.corp",
            "LOOPML_WEBHOOK_PRIVATE_HOSTS": "0",
        },
    )
    policy = EgressPolicy.of(settings)
    assert policy.allowed_hosts == ("a.example:81", "*.corp")
    assert policy.private_ok is False
    assert EgressPolicy.of(load_settings(tmp_path, environ={})).private_ok is True


def test_mapped_and_special_ranges_count_as_inward() -> None:
    assert inward(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert inward(ipaddress.ip_address("224.0.0.1"))
    assert not inward(ipaddress.ip_address("1.1.1.1"))
