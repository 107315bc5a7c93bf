"""The SSRF guard: fetch a URL a model (or a user) chose without letting it reach what it should
not. Used by the `read_url` tool and, later, by webhooks; it knows nothing of either.

The rules, checked on the URL and again on every redirect:

- Only `http` and `https`; no userinfo (`http://good@evil/`), no backslash, space or control
  character (parsers disagree on those).
- The host is resolved once. Numeric hosts in any form inet_aton accepts (`2130706433`,
  `0177.0.0.1`, `0x7f.1`, `127.1`) are read as the address they name, not left to a resolver.
- Every address the name resolves to must be public: none private, loopback, link-local,
  CGNAT (100.64/10), multicast, unspecified, reserved or a cloud metadata address, including
  such an address inside IPv6 (IPv4-mapped, 6to4, NAT64, Teredo). One bad address refuses the
  host: a DNS answer mixing public and private addresses is how rebinding starts.
- The connection goes to the address that was checked (the Host header and TLS SNI carry the
  name), so no second lookup can answer differently.
- Redirects are followed by hand, at most `max_redirects`, each target checked as above.
- The whole fetch has a deadline (`timeout_s`) and the body a size cap (`max_bytes`).

`allow` lists networks that are allowed despite the rules (tests allow 127.0.0.0/8 to fetch
from a local server; nothing is allowed by default). `private` (a webhook an operator allowed
to reach private addresses) lets every rule pass but the metadata addresses.

`post` sends a webhook delivery under the same rules, and follows no redirect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from outlast.errors import UrlRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Metadata endpoints that are not all caught by the ranges (168.63.129.16 is a public address).
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "168.63.129.16",  # Azure wireserver
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_FORBIDDEN_CHARS = re.compile(r"[\\\s\x00-\x1f\x7f]")
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class GuardConfig:
    """How far a fetch may go. `allow`: networks allowed despite the rules (tests only)."""

    allow: tuple[IPNetwork, ...] = ()
    timeout_s: float = 10.0
    max_bytes: int = 1_000_000
    max_redirects: int = 5
    private: bool = False  # private, loopback, ... addresses allowed; metadata ones never

    @staticmethod
    def parse_allow(text: str) -> tuple[IPNetwork, ...]:
        """`127.0.0.0/8, ::1` -> networks. Raises ValueError naming a bad entry."""
        networks = []
        for entry in filter(None, (e.strip() for e in text.split(","))):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(f"not an address or network: {entry!r}") from exc
        return tuple(networks)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`address`) and what to call the host there."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress
    path: str


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    content_type: str
    body: bytes
    truncated: bool


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a numeric host names as inet_aton reads it (1 to 4 parts, each decimal,
    octal with a leading 0, or hex with 0x), or None when the host is not numeric. Raises
    UrlRefused for a numeric-looking host that names no address."""
    parts = host.split(".")
    if host.endswith("."):
        parts = parts[:-1]
    if not parts or not all(_NUMERIC_PART.match(p) for p in parts):
        return None
    if len(parts) > 4:
        raise UrlRefused(f"{host!r} is not a valid address")
    try:
        values = [int(p, 16) if p.startswith("0x") else int(p, 8 if p[0] == "0" else 10)
                  for p in parts]  # fmt: skip
    except ValueError as exc:
        raise UrlRefused(f"{host!r} is not a valid address") from exc
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        raise UrlRefused(f"{host!r} is not a valid address")
    number = 0
    for value in head:
        number = number * 256 + value
    number = (number << (8 * (5 - len(values)))) + last
    return ipaddress.IPv4Address(number)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, Teredo), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64 or address in NAT64_LOCAL:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why `address` may not be reached, or None when it is a public address."""
    if address in METADATA:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            why = refusal(inner)
            return None if why is None else f"{why} (inside an IPv6 address)"
    for attribute in (
        "is_loopback",
        "is_private",
        "is_link_local",
        "is_multicast",
        "is_unspecified",
        "is_reserved",
    ):
        if getattr(address, attribute):
            return attribute.removeprefix("is_").replace("_", "-")
    if not address.is_global:
        return "not a public address"  # CGNAT 100.64/10, documentation ranges, ...
    return None


def allowed(address: IPAddress, allow: Sequence[IPNetwork]) -> bool:
    return any(address.version == n.version and address in n for n in allow)


def check_address(
    address: IPAddress, allow: Sequence[IPNetwork], host: str, *, private: bool = False
) -> None:
    why = None if allowed(address, allow) else refusal(address)
    if private and why is not None and address not in METADATA:
        why = None
    if why is not None:
        raise UrlRefused(f"{host} resolves to {address}, which is {why}")


def split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a URL the rules accept, or UrlRefused."""
    if _FORBIDDEN_CHARS.search(url):
        raise UrlRefused("the URL has a backslash, space or control character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused(f"only http and https URLs can be fetched, not {scheme or 'none'!r}")
    if parts.username is not None or "@" in parts.netloc:
        raise UrlRefused("a URL with user information (user@host) is refused")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("the URL has no host")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


async def check(url: str, config: GuardConfig, resolver: Resolver = system_resolver) -> Target:
    """The URL checked and its host resolved once; UrlRefused says which rule refused it."""
    scheme, host, port, path = split(url)
    literal = _literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            answers = await resolver(host, port)
        except OSError as exc:
            raise UrlRefused(f"{host} does not resolve: {exc}") from exc
        addresses = [_parse_answer(host, a) for a in answers]
    if not addresses:
        raise UrlRefused(f"{host} does not resolve")
    for address in addresses:
        check_address(address, config.allow, host, private=config.private)
    return Target(url, scheme, host, port, addresses[0], path)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return legacy_ipv4(host.lower())


def _parse_answer(host: str, answer: str) -> IPAddress:
    try:
        return ipaddress.ip_address(answer.split("%")[0])
    except ValueError as exc:
        raise UrlRefused(f"{host} resolves to {answer!r}, which is no address") from exc


async def fetch(
    url: str,
    config: GuardConfig,
    *,
    resolver: Resolver = system_resolver,
    headers: dict[str, str] | None = None,
) -> Fetched:
    """GET `url` under the rules: redirects followed by hand and each re-checked, the body cut
    at `max_bytes` (`truncated`), everything within `timeout_s`. Raises UrlRefused (a rule, or
    too many redirects), TimeoutError, or httpx.HTTPError (the transport failed)."""
    async with asyncio.timeout(config.timeout_s), _client(config) as client:
        for _ in range(config.max_redirects + 1):
            target = await check(url, config, resolver)
            fetched, location = await _get(client, target, config, headers or {})
            if location is None:
                return fetched
            url = urljoin(url, location)
    raise UrlRefused(f"more than {config.max_redirects} redirects")


@dataclass(frozen=True)
class Posted:
    status: int
    body: bytes  # the start of the answer, at most `max_bytes`


async def post(
    url: str,
    config: GuardConfig,
    body: bytes,
    headers: dict[str, str],
    *,
    resolver: Resolver = system_resolver,
) -> Posted:
    """POST `body` to `url` under the rules, following no redirect (a 3xx is the answer),
    within `timeout_s`. Raises UrlRefused, TimeoutError or httpx.HTTPError."""
    async with asyncio.timeout(config.timeout_s), _client(config) as client:
        target = await check(url, config, resolver)
        request = client.build_request(
            "POST",
            _address_url(target),
            content=body,
            headers={**headers, "Host": _host_header(target), "Accept-Encoding": "identity"},
            extensions={"sni_hostname": target.host},
        )
        response = await client.send(request, stream=True)
        try:
            answer, _ = await _read_capped(response, config.max_bytes)
        finally:
            await response.aclose()
        return Posted(response.status_code, answer)


def _address_url(target: Target) -> str:
    """The URL with the checked address in place of the name (no second lookup)."""
    netloc = f"[{target.address}]" if target.address.version == 6 else str(target.address)
    return f"{target.scheme}://{netloc}:{target.port}{target.path}"


def _host_header(target: Target) -> str:
    default_port = 443 if target.scheme == "https" else 80
    return target.host if target.port == default_port else f"{target.host}:{target.port}"


def _client(config: GuardConfig) -> httpx.AsyncClient:
    # trust_env=False: no proxy from the environment, which would resolve the name itself.
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=config.timeout_s)


async def _get(
    client: httpx.AsyncClient, target: Target, config: GuardConfig, headers: dict[str, str]
) -> tuple[Fetched, str | None]:
    """One request to the checked address; (what came back, the redirect's Location if any)."""
    request = client.build_request(
        "GET",
        _address_url(target),
        headers={**headers, "Host": _host_header(target), "Accept-Encoding": "identity"},
        extensions={"sni_hostname": target.host},
    )
    response = await client.send(request, stream=True)
    try:
        location = response.headers.get("location")
        if response.status_code in REDIRECTS and location:
            return _fetched(target, response, b"", False), location
        body, truncated = await _read_capped(response, config.max_bytes)
        return _fetched(target, response, body, truncated), None
    finally:
        await response.aclose()


async def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False


def _fetched(target: Target, response: httpx.Response, body: bytes, truncated: bool) -> Fetched:
    content_type = response.headers.get("content-type", "application/octet-stream")
    return Fetched(target.url, response.status_code, content_type, body, truncated)
