"""Synthetic requests while ``verify`` watches: a quiet environment (dev) still gets evidence.

The rule's ``traffic`` paths are requested in turn from the environment's base URL (``--url``),
``rate`` a second (at most 20, ``ci.gitops.promotion``), one at a time, on a schedule fixed from
the start: bounded in count (``rate`` x the window, rounded up) and in time (nothing is sent
after the window; each request ends within ``REQUEST_SECONDS``). A request that gets no answer
never reaches the service's metrics; the summary says how many did not.
"""

import http.client
import math
import ssl
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable

from ci.errors import UsageError
from ci.gitops.promotion import Traffic
from ci.project import service_name
from ci.wait import transport

REQUEST_SECONDS = 5.0
NO_ANSWER = "no answer"
BODY_LIMIT = 64 * 1024  # read, then dropped: the answer's status is what counts


def check_base_url(raw: str, flag: str = "--url") -> str:
    """The environment's base URL (no trailing slash); UsageError unless http(s) with a host."""
    url = raw.strip().rstrip("/")
    try:
        parts = urllib.parse.urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        ok = False
    if not ok or parts.query or parts.fragment or any(c in url for c in " \r\n"):
        raise UsageError(f"{flag} must be the http(s) base URL of the service, got {url[:200]!r}")
    return url


def due_times(rate: float, seconds: float) -> list[float]:
    """When each request is due, in seconds from the start: ``rate`` a second within
    ``seconds`` (the first at once)."""
    count = max(1, math.ceil(rate * seconds))
    return [index / rate for index in range(count) if index / rate < seconds]


class Synthetic:
    """Requests ``traffic.paths`` at ``base_url`` in a thread, until the window ends or stop()."""

    def __init__(
        self,
        base_url: str,
        traffic: Traffic,
        seconds: float,
        get: Callable[..., transport.Response] = transport.get,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url, self.traffic, self.seconds = base_url, traffic, seconds
        self._get, self._clock = get, clock
        self._tls = ssl.create_default_context() if base_url.startswith("https:") else None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="verify-traffic", daemon=True)
        self.answers: Counter[str] = Counter()  # status code (or NO_ANSWER) -> requests

    def start(self) -> "Synthetic":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=REQUEST_SECONDS + 1)

    def join(self, timeout: float) -> None:
        """Wait until every request due has been sent (at most ``timeout`` seconds)."""
        self._thread.join(timeout)

    def _run(self) -> None:
        started = self._clock()
        paths = self.traffic.paths
        for index, due in enumerate(due_times(self.traffic.rate, self.seconds)):
            if self._stopped.wait(max(0.0, started + due - self._clock())):
                return
            self.answers[self._request(paths[index % len(paths)], index)] += 1

    def _request(self, path: str, index: int) -> str:
        headers = {"User-Agent": f"{service_name()}-verify", "X-Request-ID": f"verify-{index}"}
        try:
            response = self._get(
                self.base_url + path, headers, REQUEST_SECONDS, self._tls, BODY_LIMIT
            )
        except (OSError, http.client.HTTPException):
            return NO_ANSWER
        return str(response.status)

    def summary(self) -> str:
        """``synthetic: 30 sent (28 answered 200, 2 no answer)``."""
        answers = dict(self.answers)  # a copy: the thread may still count
        sent = sum(answers.values())
        parts = ", ".join(
            f"{count} {'' if status == NO_ANSWER else 'answered '}{status}"
            for status, count in sorted(answers.items())
        )
        return f"synthetic: {sent} sent" + (f" ({parts})" if parts else "")
