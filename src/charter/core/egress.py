"""Where Charter may send requests (model upstreams, webhooks): rules on URLs and on the addresses they resolve to.

Always refused: userinfo in the URL (`http://user:pass@host`), link-local and cloud-metadata addresses
(169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200, also inside IPv4-mapped, 6to4 and NAT64 IPv6 forms, and
in the numeric spellings `getaddrinfo` accepts: `2852039166`, `0xa9fea9fe`, `0251.0376.0251.0376`) and the metadata
host names. Optionally (`CHARTER_UPSTREAM_ALLOW`, comma-separated host names, `*.suffix` patterns, IP addresses and
CIDRs): only listed hosts, or hosts whose every address is in a listed network. Pure functions, no I/O except the
optional `resolve` in `check_resolved`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FORBIDDEN_NETS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),  # IPv4 link-local: AWS/GCP/Azure/OCI metadata at 169.254.169.254
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
)
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class Allow:
    """The optional allowlist: host names, `*.suffix` patterns and networks. Empty means "any host not refused"."""

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    nets: tuple[IPNetwork, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.hosts or self.suffixes or self.nets)

    def names(self, host: str) -> bool:
        return host in self.hosts or any(host.endswith(s) for s in self.suffixes)

    def covers(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.nets)


def parse_allow(text: str | None) -> Allow:
    """`host, *.example.com, 10.0.0.0/8, 2001:db8::/32` → `Allow`; raises ValueError naming the bad entry."""
    hosts: set[str] = set()
    suffixes: list[str] = []
    nets: list[IPNetwork] = []
    for raw in (text or "").split(","):
        entry = raw.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = entry[2:] if entry.startswith("*.") else entry
        if not name or not all(part and _label_ok(part) for part in name.split(".")):
            raise ValueError(f"'{raw.strip()}' is neither a host name, a '*.suffix' pattern, an IP address nor a CIDR")
        if entry.startswith("*."):
            suffixes.append("." + name)
        else:
            hosts.add(name)
    return Allow(frozenset(hosts), tuple(suffixes), tuple(nets))


def _label_ok(label: str) -> bool:
    return len(label) <= 63 and all(c.isascii() and (c.isalnum() or c in "-_") for c in label)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden_address(ip: IPAddress) -> bool:
    """A link-local or cloud-metadata address (also when embedded in an IPv6 address)."""
    if any(ip in net for net in FORBIDDEN_NETS):
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        return inner is not None and forbidden_address(inner)
    return False


def literal_address(host: str) -> IPAddress | None:
    """The IP address a host spells, in any form the system resolver would take without DNS; None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    try:  # inet_aton's legacy forms: 2852039166, 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def address_refusal(ip: IPAddress, allow: Allow, *, host: str | None = None) -> str | None:
    """Why a connection to `ip` (for `host`) is refused, or None."""
    if forbidden_address(ip):
        return f"{ip} is a link-local or cloud-metadata address"
    if allow.enabled and not allow.covers(ip) and not (host is not None and allow.names(host)):
        return f"{host or ip} ({ip}) is not in CHARTER_UPSTREAM_ALLOW"
    return None


def url_refusal(url: str, allow: Allow, *, base: bool = True) -> str | None:
    """Why Charter must not send requests to `url`, or None. `base`: a base URL, so no query string either.

    Static: no DNS lookup. A host name that is not on the allowlist is left to `check_resolved` (its addresses).
    """
    if any(c.isspace() or c == "\\" or not c.isascii() or ord(c) < 0x20 for c in url):
        return "the URL must be plain ASCII without spaces or backslashes"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"the URL does not parse ({exc})"
    del port
    if parts.scheme not in ("http", "https"):
        return "the URL must start with http:// or https://"
    if "@" in parts.netloc or parts.username is not None:
        return "the URL must not carry a user name or password (userinfo): put credentials in headers or secrets"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "the URL has no host"
    if "%" in host:
        return "the host must not be percent-encoded"
    if parts.fragment or "#" in url:
        return "the URL must not have a fragment"
    if base and (parts.query or "?" in url):
        return "a base URL must not have a query string (the caller's query is appended)"
    if host in METADATA_HOSTS:
        return f"'{host}' is a cloud-metadata host"
    ip = literal_address(host)
    if ip is not None:
        return address_refusal(ip, allow)
    if allow.enabled and not allow.names(host) and not allow.nets:
        return f"'{host}' is not in CHARTER_UPSTREAM_ALLOW"
    return None


Resolve = Callable[[str], Iterable[str]]


def system_resolve(host: str) -> list[str]:
    """Every address the system resolver gives for `host`."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]


def check_resolved(url: str, allow: Allow, resolve: Resolve = system_resolve, *, base: bool = True) -> str | None:
    """`url_refusal`, then, for a host name the allowlist does not name, the addresses it resolves to. `base=False`
    for a complete URL (a webhook's), whose query string is part of it."""
    why = url_refusal(url, allow, base=base)
    if why is not None:
        return why
    host = (urlsplit(url).hostname or "").rstrip(".")
    if literal_address(host) is not None or (allow.enabled and allow.names(host)):
        return None
    try:
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host)]
    except OSError as exc:
        if not allow.enabled:
            return None  # not resolvable now: the connection-time check covers it
        return f"'{host}' does not resolve ({exc}), so its addresses cannot be checked against CHARTER_UPSTREAM_ALLOW"
    for ip in addresses:
        why = address_refusal(ip, allow, host=host)
        if why is not None:
            return why
    return None
