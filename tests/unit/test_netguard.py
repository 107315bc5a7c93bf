"""The SSRF guard against a corpus of tricky URLs, with a fake resolver: no traffic is sent to
any of these addresses (a test that would resolve or connect fails loudly instead)."""

from __future__ import annotations

import ipaddress

import pytest

from outlast.errors import UrlRefused
from outlast.netguard import GuardConfig, check, legacy_ipv4, refusal

DNS = {
    "public.test": ["93.184.216.34"],
    "v6.test": ["2606:2800:220:1:248:1893:25c8:1946"],
    "mixed.test": ["93.184.216.34", "10.0.0.5"],  # rebinding starts like this
    "mixed6.test": ["2606:2800:220:1:248:1893:25c8:1946", "::1"],
    "internal.test": ["192.168.1.10"],
    "metadata.test": ["169.254.169.254"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "garbage.test": ["not-an-address"],
    "empty.test": [],
}


async def fake_resolver(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise OSError(f"unknown host {host}")
    return DNS[host]


async def refused(url: str, config: GuardConfig | None = None) -> str:
    with pytest.raises(UrlRefused) as caught:
        await check(url, config or GuardConfig(), fake_resolver)
    return str(caught.value)


REFUSED = [
    # schemes
    "file:///etc/passwd",
    "ftp://public.test/",
    "gopher://public.test/",
    "javascript:alert(1)",
    "//public.test/",
    # loopback in every spelling
    "http://127.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0x0.0x0.0x1/",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://127.000.000.001/",
    "http://localhost./",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://0/",
    "http://0.0.0.0/",
    "http://[::]/",
    # private, link-local, CGNAT, metadata, multicast, reserved
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/",
    "http://[fd00:ec2::254]/",
    "http://168.63.129.16/",
    "http://100.100.100.200/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 around 169.254.169.254
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo around 192.0.2.45
    # names resolving (partly) to private addresses
    "http://internal.test/",
    "http://metadata.test/",
    "http://mixed.test/",
    "http://mixed6.test/",
    "http://mapped.test/",
    "http://garbage.test/",
    "http://empty.test/",
    "http://nowhere.test/",
    # parser tricks
    "http://public.test@127.0.0.1/",
    "http://user:pass@public.test/",
    "http://public.test\\@127.0.0.1/",
    "http://public.test /",
    "http://pub\tlic.test/",
    "http://1.2.3.4.5/",
    "http://08.0.0.1/",
    "http://256.0.0.1/",
    "http://[::1/",
    "http://public.test:99999/",
    "http:///path",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_refused(url: str) -> None:
    assert await refused(url)


ACCEPTED = {
    "http://public.test/": "93.184.216.34",
    "https://PUBLIC.test:8443/a?b=c": "93.184.216.34",
    "http://v6.test/": "2606:2800:220:1:248:1893:25c8:1946",
    "http://93.184.216.34/": "93.184.216.34",
    "http://1572395042/": "93.184.216.34",  # decimal form of a public address: allowed
    "http://[2606:2800:220:1:248:1893:25c8:1946]/": "2606:2800:220:1:248:1893:25c8:1946",
}


@pytest.mark.parametrize(("url", "address"), ACCEPTED.items())
async def test_accepted_and_connects_to_the_checked_address(url: str, address: str) -> None:
    target = await check(url, GuardConfig(), fake_resolver)
    assert target.address == ipaddress.ip_address(address)


async def test_the_refusal_says_why() -> None:
    assert "metadata" in await refused("http://169.254.169.254/")
    assert "loopback" in await refused("http://2130706433/")
    assert "inside an IPv6 address" in await refused("http://[::ffff:10.0.0.1]/")
    assert "only http and https" in await refused("file:///etc/passwd")
    assert "user information" in await refused("http://a@public.test/")


async def test_loopback_only_when_allowed() -> None:
    config = GuardConfig(allow=GuardConfig.parse_allow("127.0.0.0/8, ::1"))
    target = await check("http://127.0.0.1:8080/x", config, fake_resolver)
    assert target.port == 8080 and target.path == "/x"
    await check("http://[::1]/", config, fake_resolver)
    # The allow-list is only what it says.
    assert await refused("http://10.0.0.1/", config)
    assert await refused("http://169.254.169.254/", config)


def test_parse_allow_names_a_bad_entry() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        GuardConfig.parse_allow("127.0.0.1, nonsense")


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.1", "127.0.0.1"),
        ("10.0x10.0377", "10.16.0.255"),
        ("example.com", None),
        ("1e100.net", None),
    ],
)
def test_legacy_ipv4_reads_numeric_hosts_as_inet_aton_does(host: str, address: str | None) -> None:
    parsed = legacy_ipv4(host)
    assert (str(parsed) if parsed else None) == address


def test_public_addresses_pass() -> None:
    for text in ("8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"):
        assert refusal(ipaddress.ip_address(text)) is None
