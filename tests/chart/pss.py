"""The Pod Security Standards, "restricted" profile (which includes "baseline"), as pod-spec checks.

Written from https://kubernetes.io/docs/concepts/security/pod-security-standards/ (policy version
latest). ``violations(pod_spec)`` returns one message per broken control; empty means restricted.
"""

from typing import Any

# Baseline: capabilities a container may add; restricted narrows it to NET_BIND_SERVICE.
RESTRICTED_ADDABLE_CAPABILITIES = {"NET_BIND_SERVICE"}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
APPARMOR_TYPES = {"RuntimeDefault", "Localhost"}


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *pod.get("containers", []),
        *pod.get("initContainers", []),
        *pod.get("ephemeralContainers", []),
    ]


def violations(pod: dict[str, Any]) -> list[str]:
    found: list[str] = []
    pod_ctx = pod.get("securityContext") or {}
    all_ctx = [("pod", pod_ctx)] + [
        (f"container {c.get('name')}", c.get("securityContext") or {}) for c in containers(pod)
    ]

    # --- baseline ---
    for ctx_name, ctx in all_ctx:
        if (ctx.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"{ctx_name}: windowsOptions.hostProcess")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            found.append(f"pod: {key}")
    for container in containers(pod):
        name = container.get("name")
        ctx = container.get("securityContext") or {}
        if ctx.get("privileged"):
            found.append(f"container {name}: privileged")
        for port in container.get("ports", []):
            if port.get("hostPort", 0):
                found.append(f"container {name}: hostPort")
        if ctx.get("procMount", "Default") != "Default":
            found.append(f"container {name}: procMount")
    for volume in pod.get("volumes", []):
        if "hostPath" in volume:
            found.append(f"volume {volume.get('name')}: hostPath")
    for ctx_name, ctx in all_ctx:
        apparmor = ctx.get("appArmorProfile")
        if apparmor and apparmor.get("type") not in APPARMOR_TYPES:
            found.append(f"{ctx_name}: appArmorProfile {apparmor.get('type')}")
        selinux = ctx.get("seLinuxOptions") or {}
        if selinux.get("type", "") not in SELINUX_TYPES:
            found.append(f"{ctx_name}: seLinuxOptions.type")
        if selinux.get("user") or selinux.get("role"):
            found.append(f"{ctx_name}: seLinuxOptions user/role")
        seccomp = ctx.get("seccompProfile") or {}
        if seccomp.get("type") == "Unconfined":
            found.append(f"{ctx_name}: seccompProfile Unconfined")
    for sysctl in pod_ctx.get("sysctls", []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(f"pod: sysctl {sysctl.get('name')}")

    # --- restricted ---
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            found.append(f"volume {volume.get('name')}: type {sorted(kinds)}")
    pod_non_root = pod_ctx.get("runAsNonRoot") is True
    if pod_ctx.get("runAsUser") == 0:
        found.append("pod: runAsUser 0")
    pod_seccomp = (pod_ctx.get("seccompProfile") or {}).get("type")
    for container in containers(pod):
        name = container.get("name")
        ctx = container.get("securityContext") or {}
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name}: allowPrivilegeEscalation must be false")
        non_root = ctx.get("runAsNonRoot", pod_non_root if pod_non_root else None)
        if non_root is not True:
            found.append(f"container {name}: runAsNonRoot must be true")
        if ctx.get("runAsUser") == 0:
            found.append(f"container {name}: runAsUser 0")
        seccomp = (ctx.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in {"RuntimeDefault", "Localhost"}:
            found.append(f"container {name}: seccompProfile must be RuntimeDefault or Localhost")
        capabilities = ctx.get("capabilities") or {}
        if "ALL" not in capabilities.get("drop", []):
            found.append(f"container {name}: capabilities must drop ALL")
        added = set(capabilities.get("add", [])) - RESTRICTED_ADDABLE_CAPABILITIES
        if added:
            found.append(f"container {name}: adds capabilities {sorted(added)}")
    return found
