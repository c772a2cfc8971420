"""Host facts: looked up for real, including a hostname that does not resolve."""

import ipaddress
import socket

from app.hostinfo import detect_host, ip_for


def test_detect_host_uses_the_machine_hostname() -> None:
    host = detect_host()
    assert host.hostname == socket.gethostname()
    ipaddress.IPv4Address(host.ip)


def test_ip_for_a_resolvable_name() -> None:
    assert ip_for("localhost") == "127.0.0.1"


def test_unresolvable_hostname_falls_back_to_an_interface_address() -> None:
    """As inside a buildah container, where the machine's hostname does not resolve."""
    ip = ip_for("no-such-host.invalid")
    ipaddress.IPv4Address(ip)  # the outbound interface's address, or the loopback address
