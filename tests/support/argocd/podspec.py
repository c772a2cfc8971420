"""What the stand-in's one node runs, read from the rendered objects: the Deployment's container.

Pure functions: the rendered pod spec becomes a ``PodSpec`` (image, user, env, command, port,
probes, read-only root and its writable emptyDir mounts), and ``container_argv`` turns the image's
ENTRYPOINT/CMD (or the spec's command/args, as Kubernetes does) into the command line to run on the
host network, with the listening address and port rewritten to 127.0.0.1 and a free port.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class PodSpecError(ValueError):
    """The rendered objects ask for something the stand-in cannot run; str() is one line."""


@dataclass(frozen=True)
class Probe:
    """An httpGet probe, as Kubernetes runs it (success: a status from 200 to 399)."""

    path: str
    port: int
    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3
    initial_delay: float = 0.0

    @property
    def budget(self) -> float:
        """Seconds until Kubernetes gives up on it (restarts a startup probe's container)."""
        return self.initial_delay + self.period * self.failure_threshold


@dataclass(frozen=True)
class PodSpec:
    deployment: str
    namespace: str
    container: str
    image: str
    container_port: int
    user: str | None = None  # "uid[:gid]"; None: the image's USER
    env: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] | None = None  # Kubernetes' command: replaces ENTRYPOINT
    args: tuple[str, ...] | None = None  # Kubernetes' args: replaces CMD
    working_dir: str | None = None
    read_only_root: bool = False
    writable_paths: tuple[str, ...] = ()  # emptyDir mounts
    startup: Probe | None = None
    readiness: Probe | None = None
    grace_seconds: float = 30.0
    template: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def deployment_of(objects: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    if len(deployments) != 1:
        raise PodSpecError(f"the stand-in runs exactly one Deployment, found {len(deployments)}")
    return deployments[0]


def pod_spec(objects: Sequence[Mapping[str, Any]], namespace: str) -> PodSpec:
    """The single Deployment's single container, as the stand-in's node will run it."""
    deployment = deployment_of(objects)
    template = deployment["spec"]["template"]
    spec = template.get("spec", {})
    containers = spec.get("containers", [])
    if len(containers) != 1 or spec.get("initContainers"):
        raise PodSpecError("the stand-in runs pods of exactly one container (no init containers)")
    (container,) = containers
    ports = {p.get("name"): int(p["containerPort"]) for p in container.get("ports", [])}
    if len(ports) != 1:
        raise PodSpecError("the stand-in maps exactly one container port")
    (container_port,) = ports.values()
    security = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    writable = []
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        if "emptyDir" not in volume:
            raise PodSpecError(f"volume {mount['name']}: only emptyDir volumes are supported")
        writable.append(mount["mountPath"])
    return PodSpec(
        deployment=deployment["metadata"]["name"],
        namespace=deployment["metadata"].get("namespace") or namespace,
        container=container["name"],
        image=container["image"],
        container_port=container_port,
        user=_user(security),
        env=tuple(_env(container.get("env", []))),
        command=tuple(container["command"]) if "command" in container else None,
        args=tuple(container["args"]) if "args" in container else None,
        working_dir=container.get("workingDir"),
        read_only_root=bool(security.get("readOnlyRootFilesystem")),
        writable_paths=tuple(writable),
        startup=_probe(container.get("startupProbe"), ports),
        readiness=_probe(container.get("readinessProbe"), ports),
        grace_seconds=float(spec.get("terminationGracePeriodSeconds", 30)),
        template=template,
    )


def _user(security: Mapping[str, Any]) -> str | None:
    if "runAsUser" not in security:
        return None
    user = str(security["runAsUser"])
    return f"{user}:{security['runAsGroup']}" if "runAsGroup" in security else user


def _env(items: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        if "valueFrom" in item:
            raise PodSpecError(f"env {item['name']}: valueFrom is not supported by the stand-in")
        pairs.append((item["name"], str(item.get("value", ""))))
    return pairs


def _probe(probe: Mapping[str, Any] | None, ports: Mapping[str | None, int]) -> Probe | None:
    if not probe:
        return None
    http = probe.get("httpGet")
    if http is None:
        raise PodSpecError("only httpGet probes are supported by the stand-in")
    port = http["port"]
    if isinstance(port, str):
        if port not in ports:
            raise PodSpecError(f"probe port {port!r} is not a named container port")
        port = ports[port]
    return Probe(
        path=http.get("path", "/"),
        port=int(port),
        period=float(probe.get("periodSeconds", 10)),
        timeout=float(probe.get("timeoutSeconds", 1)),
        failure_threshold=int(probe.get("failureThreshold", 3)),
        initial_delay=float(probe.get("initialDelaySeconds", 0)),
    )


def pull_reference(image: str) -> str:
    """``repo:tag@sha256:...`` -> ``repo@sha256:...``: the digest is what a kubelet pulls (and
    containers/image refuses references carrying both)."""
    name, at, digest = image.partition("@")
    if not at:
        return image
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        last[-1] = last[-1].split(":", 1)[0]
    return "/".join(last) + "@" + digest


def container_argv(
    spec: PodSpec, entrypoint: Sequence[str], cmd: Sequence[str], host_port: int
) -> list[str]:
    """The process to start: Kubernetes' command/args rules, then the port rewrite.

    The node shares the host's network, so the server must listen on 127.0.0.1 and a free port:
    ``--host``/``--port`` (uvicorn's and most servers' spelling) are rewritten, and a command that
    does not name the container port is refused rather than guessed at.
    """
    if spec.command is not None:
        argv = [*spec.command, *(spec.args or ())]
    else:
        argv = [*entrypoint, *(spec.args if spec.args is not None else cmd)]
    if not argv:
        raise PodSpecError("no command: the image has no ENTRYPOINT/CMD and the spec none")
    rewritten, port_seen = [], False
    index = 0
    while index < len(argv):
        arg = argv[index]
        flag, eq, value = arg.partition("=")
        if flag in ("--host", "--port") and not eq and index + 1 < len(argv):
            value, index = argv[index + 1], index + 1
        elif flag not in ("--host", "--port") or not eq:
            rewritten.append(arg)
            index += 1
            continue
        if flag == "--port":
            if value != str(spec.container_port):
                raise PodSpecError(
                    f"the command listens on port {value}, not the container port "
                    f"{spec.container_port}"
                )
            port_seen = True
            rewritten += ["--port", str(host_port)]
        else:
            rewritten += ["--host", "127.0.0.1"]
        index += 1
    if not port_seen:
        raise PodSpecError(
            f"the command does not name --port {spec.container_port}: the stand-in cannot move "
            "it to a free loopback port"
        )
    return rewritten
