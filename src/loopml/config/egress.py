"""Which hosts a process may call on a user's behalf (alert webhooks).

Under `loopml server` an editor configures a monitor's webhook and the server makes the
call: without a rule, that editor could make the server reach its own network (a cloud
metadata address, an admin port on loopback, a database on the private network). The
policy refuses those addresses unless an admin lists the host; public hosts stay open.
The check runs twice: when a URL is configured (refused with a hint) and before each
call, on every address the name resolves to then, so a name that points inward later is
refused too.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from loopml.config.settings import Settings
from loopml.errors import ValidationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def inward(address: Address) -> bool:
    """Whether `address` reaches the caller's own machine or network, not the internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return inward(address.ipv4_mapped)
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


@dataclass(frozen=True)
class EgressPolicy:
    """Listed hosts always pass; other hosts pass when they are public or private is allowed."""

    allowed_hosts: tuple[str, ...] = ()
    private_ok: bool = True
    resolver: Resolver = _resolve

    @classmethod
    def of(cls, settings: Settings) -> EgressPolicy:
        private = settings.webhook_private_hosts
        return cls(settings.webhook_hosts, True if private is None else private)

    def listed(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        for pattern in self.allowed_hosts:
            name, wanted_port = _split_pattern(pattern.lower())
            if wanted_port is not None and wanted_port != port:
                continue
            if fnmatch.fnmatchcase(host, name):
                return True
        return False

    def check_url(self, url: str) -> None:
        """Refuse, when a URL is configured, one whose host is or resolves to an inward
        address (a name that does not resolve yet is checked again before each call)."""
        self._check(url, unresolved_ok=True)

    def check_call(self, url: str) -> None:
        """Refuse, just before a call, a URL any of whose addresses is inward."""
        self._check(url, unresolved_ok=False)

    def _check(self, url: str, *, unresolved_ok: bool) -> None:
        host, port = _host_port(url)
        if self.private_ok or self.listed(host, port):
            return
        literal = _literal(host)
        if literal is not None:
            addresses: list[Address] = [literal]
        else:
            try:
                addresses = [
                    ipaddress.ip_address(a.split("%")[0]) for a in self.resolver(host, port)
                ]
            except (OSError, ValueError) as exc:
                if unresolved_ok:
                    return
                raise ValidationError(
                    f"cannot resolve the host of webhook URL {url!r}: {exc}"
                ) from exc
        blocked = sorted({str(a) for a in addresses if inward(a)})
        if blocked:
            raise ValidationError(
                f"webhook URL {url!r} reaches {', '.join(blocked)}, a private, loopback or "
                "link-local address this server does not call; an admin can list the host "
                "in the webhook_hosts setting (LOOPML_WEBHOOK_HOSTS) if it is meant"
            )


def _split_pattern(pattern: str) -> tuple[str, int | None]:
    """`name`, `name:port`, `[v6]`, `[v6]:port` or a bare IPv6 address."""
    if pattern.startswith("["):
        name, _, rest = pattern[1:].partition("]")
        port = rest.removeprefix(":")
        return name, int(port) if port.isdigit() else None
    if pattern.count(":") == 1:
        name, _, port = pattern.partition(":")
        return name, int(port) if port.isdigit() else None
    return pattern, None


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValidationError(f"webhook URL {url!r} has no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"webhook URL {url!r} has an invalid port") from exc
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
