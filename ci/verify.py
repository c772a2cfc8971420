"""Wait until a deployed service's ``/-/health`` reports the expected version (verify-deploy).

Argo CD syncs on its own schedule, so the pipeline cannot know when the new pods serve traffic.
This polls the health endpoint, bounded in time, until it answers 200 with ``"version"`` equal to
the image tag on several polls in a row (during a rolling update old and new pods answer in turn).
"""

import argparse
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from ci.deadline import seconds
from ci.errors import CiError, UsageError

HEALTH_PATH = "/-/health"


@dataclass(frozen=True)
class Poll:
    """One look at the health endpoint: the version it reported, or why there was none."""

    version: str | None
    problem: str = ""

    def describe(self) -> str:
        return f"version {self.version}" if self.version is not None else self.problem


def health_url(base_url: str) -> str:
    """``https://host/prefix`` -> ``https://host/prefix/-/health``; rejects non-HTTP URLs."""
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(f"--url must be an http(s) URL of the service, got {base_url!r}")
    return base_url.rstrip("/") + HEALTH_PATH


def poll_once(url: str, timeout: float) -> Poll:
    """GET the health URL once; never raises for network or payload problems."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(65536)
    except urllib.error.HTTPError as error:
        return Poll(None, f"HTTP {error.code}")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Poll(None, f"unreachable ({reason})")
    try:
        version = json.loads(body)["version"]
    except (ValueError, KeyError, TypeError):
        return Poll(None, "no JSON version in the response")
    return Poll(str(version))


def wait_for_version(
    url: str,
    version: str,
    *,
    timeout: float,
    interval: float,
    successes: int,
    poll: Callable[[str, float], Poll] = poll_once,
    log: Callable[[str], None] = lambda line: print(line, flush=True),
) -> float:
    """Poll until ``successes`` consecutive polls report ``version``; return the seconds waited.

    Raises CiError naming the last answer when ``timeout`` seconds pass first.
    """
    start = time.monotonic()
    deadline = start + timeout
    streak = 0
    last = ""
    while True:
        remaining = deadline - time.monotonic()
        result = poll(url, max(0.1, min(5.0, remaining)))
        streak = streak + 1 if result.version == version else 0
        if streak >= successes:
            return time.monotonic() - start
        seen = result.describe()
        if streak:
            log(f"{url}: {seen} ({streak} of {successes} polls in a row)")
        elif seen != last:
            log(f"{url}: {seen} (waiting for {version})")
        last = seen
        if time.monotonic() + interval > deadline:
            raise CiError(
                f"{url} did not report version {version} within {timeout:g}s (last: {last})"
            )
        time.sleep(interval)


def positive_float(text: str) -> float:
    """A duration flag's value (``ci.deadline.seconds``: finite, positive, at most a week)."""
    try:
        return seconds(text, "the duration")
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("the duration ")) from None
