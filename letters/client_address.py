"""The client's IP address, for the letter form's limits and blocks and for admin lockouts
(AXES_CLIENT_IP_CALLABLE).

A header such as X-Forwarded-For is whatever the client wrote, unless a proxy of ours wrote
it: it counts only on requests whose REMOTE_ADDR is in LETTERS_TRUSTED_PROXIES. Each proxy
appends the address it saw, so the client is the right-most address that is not itself a
trusted proxy; everything to its left came from the client and is ignored.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _parse(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    return getattr(address, "ipv4_mapped", None) or address


def _trusted(address: Address, networks: tuple) -> bool:
    return any(address in network for network in networks)


def client_ip(request) -> str:
    """REMOTE_ADDR, or behind a trusted proxy the client address from
    LETTERS_CLIENT_IP_HEADER; the proxy's own address when that header is missing or
    garbled."""
    remote = request.META.get("REMOTE_ADDR", "")
    header = settings.LETTERS_CLIENT_IP_HEADER
    networks = _networks(tuple(settings.LETTERS_TRUSTED_PROXIES))
    nearest = _parse(remote)
    if not header or nearest is None or not _trusted(nearest, networks):
        return remote
    for value in reversed(request.META.get(header, "").split(",")):
        address = _parse(value)
        if address is None:
            break
        nearest = address
        if not _trusted(address, networks):
            break
    return str(nearest)
