"""Facts about the host, looked up once at startup (never per request)."""

import socket
from dataclasses import dataclass

FALLBACK_IP = "127.0.0.1"
# Any routable address: connecting a UDP socket sends nothing, it only picks the outbound interface.
_PROBE_ADDRESS = ("10.255.255.255", 1)


@dataclass(frozen=True, slots=True)
class HostInfo:
    hostname: str
    ip: str


def detect_host() -> HostInfo:
    hostname = socket.gethostname()
    return HostInfo(hostname=hostname, ip=ip_for(hostname))


def ip_for(hostname: str) -> str:
    """The address `hostname` resolves to; if it does not resolve (as in many containers),
    the address of the primary outbound interface; failing that, the loopback address."""
    try:
        return socket.gethostbyname(hostname)
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(_PROBE_ADDRESS)
            return sock.getsockname()[0]
    except OSError:
        return FALLBACK_IP
