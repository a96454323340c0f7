"""SSRF guard: which addresses a poster fetch may connect to.

Refused by default: loopback, private, link-local (169.254.x, incl. cloud metadata), multicast,
unspecified, reserved and IPv4-mapped/translated IPv6 forms of any of those. The check runs on
IP literals in URLs (every redirect hop) and, through `GuardedResolver`, on the addresses a
hostname resolves to — which are the addresses aiohttp then connects to (resolve once, connect
to that), so DNS rebinding cannot slip a private address in between.
"""
from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver


def forbidden_reason(ip: str) -> str | None:
    """Why connecting to this IP literal is refused, or None if it is a public address."""
    try:
        addr = ipaddress.ip_address(ip.strip("[]").split("%")[0])
    except ValueError:
        dotted = legacy_ipv4(ip)
        if dotted is None:
            return f"not an IP address: {ip!r}"
        return forbidden_reason(dotted) or None
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped or (addr.sixtofour if addr.sixtofour else None)
        if addr.ipv4_mapped is not None:
            inner = forbidden_reason(str(addr.ipv4_mapped))
            return f"IPv4-mapped IPv6 ({inner or 'mapped address'})"
        if mapped is not None:
            inner = forbidden_reason(str(mapped))
            if inner:
                return f"6to4 IPv6 wrapping {inner}"
        if addr in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 of an IPv4 address
            inner = forbidden_reason(str(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)))
            if inner:
                return f"NAT64 IPv6 wrapping {inner}"
    checks = [
        ("unspecified", addr.is_unspecified), ("loopback", addr.is_loopback),
        ("link-local (incl. cloud metadata)", addr.is_link_local), ("multicast", addr.is_multicast),
        ("private", addr.is_private), ("reserved", addr.is_reserved),
        ("shared address space", isinstance(addr, ipaddress.IPv4Address) and addr in ipaddress.ip_network("100.64.0.0/10")),
    ]
    for name, hit in checks:
        if hit:
            return f"{name} address {addr}"
    if getattr(addr, "is_site_local", False):
        return f"site-local address {addr}"
    return None


def legacy_ipv4(host: str) -> str | None:
    """The dotted address of an IPv4 literal in a legacy notation that resolvers still accept
    (decimal '2130706433', octal '0177.0.0.1', hex '0x7f.1', short '127.1'); None otherwise."""
    import socket

    if not host or not all(c in "0123456789abcdefxABCDEFX." for c in host) or not host[0].isdigit():
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
        return True
    except ValueError:
        return legacy_ipv4(host) is not None


class BlockedAddressError(OSError):
    """Every address a host resolved to is forbidden."""


class GuardedResolver(AbstractResolver):
    """Resolves with aiohttp's default resolver, then drops forbidden addresses (unless the
    host name or the address is allow-listed). aiohttp connects only to what this returns."""

    def __init__(self, allow: frozenset[str] = frozenset(), enabled: bool = True):
        self._inner = DefaultResolver()
        self.allow = allow
        self.enabled = enabled
        self.blocked: dict[str, str] = {}

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        infos = await self._inner.resolve(host, port, family)
        if not self.enabled or host in self.allow:
            return infos
        ok, reasons = [], []
        for info in infos:
            r = None if info["host"] in self.allow else forbidden_reason(info["host"])
            if r is None:
                ok.append(info)
            else:
                reasons.append(r)
        if not ok:
            self.blocked[host] = "; ".join(sorted(set(reasons)))
            raise BlockedAddressError(f"{host} resolves only to forbidden addresses: {self.blocked[host]}")
        return ok

    async def close(self) -> None:
        await self._inner.close()
