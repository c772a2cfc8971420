"""A real Prometheus server (Debian ``prometheus``) for tests, scraping the targets it is given.

    with running_prometheus(tmp_path, [Target(server.port, {"pod": "web-1"})]) as prometheus:
        prometheus.wait_for('app_build_info{pod="web-1"}')

or, with ``scrape=``, any scrape configuration of the caller's (a service discovery).

It listens on 127.0.0.1 and a free port, keeps its storage in ``workdir``, scrapes every second
(``metrics_path: /-/metrics``, as the chart's ServiceMonitor asks) with each target's labels added
(``pod``, ``namespace``: what the Prometheus Operator adds), and is stopped by its PID (its process
group: SIGTERM, then SIGKILL) on exit. Without the binary the test skips, or fails in CI.
"""

import contextlib
import hashlib
import json
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import SERVICE_NAME
from harness.network import listening
from tests.support.server import RunningServer, running_server
from tests.support.tools import require_tools

JOB = SERVICE_NAME
SCRAPE_INTERVAL = "1s"


@dataclass(frozen=True)
class Target:
    """A server on 127.0.0.1 to scrape, and the labels its series get."""

    port: int
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Tls:
    """The server's certificate and key (PEM), and the CA that signed it (for the clients)."""

    cert: Path
    key: Path
    ca: Path


@dataclass
class RunningPrometheus:
    port: int
    process_log: Path
    tls: Tls | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 10):
        context = ssl.create_default_context(cafile=str(self.tls.ca)) if self.tls else None
        return urllib.request.urlopen(self.url + path, timeout=timeout, context=context)

    def query(self, expr: str) -> list[dict]:
        """The instant vector ``expr`` evaluates to now (the API's ``result`` list)."""
        with self.get("/api/v1/query?" + urllib.parse.urlencode({"query": expr})) as response:
            return json.load(response)["data"]["result"]

    def wait_for(self, expr: str, timeout: float = 30.0) -> float:
        """Until ``expr`` has a series: the seconds it took (TimeoutError after ``timeout``)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            with contextlib.suppress(OSError, ValueError):
                if self.query(expr):
                    return time.monotonic() - started
            time.sleep(0.2)
        raise TimeoutError(f"no series for {expr} within {timeout:g}s:\n{self.log()}")

    def log(self) -> str:
        return self.process_log.read_text(errors="replace")[-4000:]


def config(targets: Sequence[Target], scrape: Mapping[str, Any] | None = None) -> str:
    """The configuration (JSON, which is YAML): a job with a static target per server, and
    ``scrape``, a scrape configuration of the caller's (e.g. ``http_sd_configs``)."""
    jobs: list[Mapping[str, Any]] = []
    if targets:
        static = [
            {"targets": [target.address], "labels": dict(target.labels)} for target in targets
        ]
        jobs.append({"job_name": JOB, "metrics_path": "/-/metrics", "static_configs": static})
    if scrape:
        jobs.append(dict(scrape))
    interval = {
        "scrape_interval": SCRAPE_INTERVAL,
        "scrape_timeout": SCRAPE_INTERVAL,
        "evaluation_interval": SCRAPE_INTERVAL,
    }
    return json.dumps({"global": interval, "scrape_configs": jobs}, indent=2)


@contextlib.contextmanager
def running_prometheus(
    workdir: Path,
    targets: Sequence[Target],
    tls: Tls | None = None,
    scrape: Mapping[str, Any] | None = None,
) -> Iterator[RunningPrometheus]:
    """Serve Prometheus from ``workdir`` (created), scraping ``targets`` (and ``scrape``, a scrape
    configuration), until the block ends; with ``tls``, its API over HTTPS."""
    binary = require_tools("prometheus")["prometheus"]
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "prometheus.yml"
    config_file.write_text(config(targets, scrape))
    log_file = workdir / "prometheus.log"
    web = []
    if tls:
        server = {"tls_server_config": {"cert_file": str(tls.cert), "key_file": str(tls.key)}}
        (workdir / "web.yml").write_text(json.dumps(server))
        web = [f"--web.config.file={workdir / 'web.yml'}"]

    def command(port: int) -> list[str]:
        return [
            binary,
            f"--config.file={config_file}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={workdir / 'data'}",
            "--log.level=warn",
            *web,
        ]

    with (
        log_file.open("wb") as log,
        listening(command, timeout=30, stdout=log, stderr=subprocess.STDOUT) as port,
    ):
        prometheus = RunningPrometheus(port, log_file, tls)
        _wait_ready(prometheus)
        yield prometheus


def _wait_ready(prometheus: RunningPrometheus, timeout: float = 30.0) -> None:
    """Until ``/-/ready`` answers 200 (the storage is open and queries are answered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            prometheus.get("/-/ready", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"Prometheus was not ready within {timeout:g}s:\n{prometheus.log()}")


@dataclass(frozen=True)
class Pod:
    """A real server of the service, run as a build's pod would be: ``APP_VERSION`` (the image
    tag) and ``APP_REVISION`` set as the image sets them, scraped with the labels the Prometheus
    Operator puts on a pod's series. ``app``: another ASGI app (a bad build in tests/support)."""

    version: str
    name: str
    namespace: str = f"{SERVICE_NAME}-dev"
    app: str = "app.main:app"

    def env(self) -> dict[str, str]:
        revision = hashlib.sha1(self.version.encode()).hexdigest()  # a full git SHA's shape
        return {"APP_VERSION": self.version, "APP_REVISION": revision}


@dataclass
class Fleet:
    prometheus: RunningPrometheus
    servers: dict[str, RunningServer]  # by pod name
    seconds_to_series: float  # from Prometheus' start until every pod's series could be queried


@contextlib.contextmanager
def scraped_pods(workdir: Path, pods: Sequence[Pod]) -> Iterator[Fleet]:
    """Start ``pods`` and a Prometheus scraping them; yield once every pod's series are there."""
    require_tools("prometheus")
    with contextlib.ExitStack() as stack:
        servers = {
            pod.name: stack.enter_context(running_server(env=pod.env(), app=pod.app))
            for pod in pods
        }
        targets = [
            Target(servers[pod.name].port, {"namespace": pod.namespace, "pod": pod.name})
            for pod in pods
        ]
        started = time.monotonic()
        prometheus = stack.enter_context(running_prometheus(workdir, targets))
        prometheus.wait_for(f"count(app_build_info) >= {len(pods)}")
        yield Fleet(prometheus, servers, time.monotonic() - started)
