"""Pod Security Standard "restricted" holds for every pod the chart renders, and more besides."""

import copy

import pytest

from tests.chart.conftest import ENVIRONMENTS, kinds, pod_specs
from tests.chart.pss import violations


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_pod_spec_is_restricted(env, rendered_envs):
    specs = pod_specs(rendered_envs[env])
    assert specs, "no pod templates rendered"
    for name, spec in specs:
        assert violations(spec) == [], name


def test_restricted_with_every_feature_on(all_features):
    for name, spec in pod_specs(all_features):
        assert violations(spec) == [], name


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda p: p["containers"][0]["securityContext"]["capabilities"].pop("drop"), "drop ALL"),
        (
            lambda p: p["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True),
            "allowPrivilegeEscalation",
        ),
        (
            lambda p: [
                p["securityContext"].pop("runAsNonRoot"),
                p["containers"][0]["securityContext"].pop("runAsNonRoot"),
            ],
            "runAsNonRoot",
        ),
        (
            lambda p: [
                p["securityContext"].pop("seccompProfile"),
                p["containers"][0]["securityContext"].pop("seccompProfile"),
            ],
            "seccompProfile",
        ),
        (lambda p: p.update(hostNetwork=True), "hostNetwork"),
        (lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "hostPath"),
        (
            lambda p: p["containers"][0]["securityContext"]["capabilities"].update(
                add=["SYS_ADMIN"]
            ),
            "SYS_ADMIN",
        ),
        (lambda p: p["containers"][0]["securityContext"].update(runAsUser=0), "runAsUser 0"),
    ],
)
def test_the_checks_catch_each_broken_control(rendered_envs, breakage, expected):
    """The checker is not vacuous: break one control of a real pod spec and it says which."""
    (_, spec) = pod_specs(rendered_envs[ENVIRONMENTS[0]])[0]
    broken = copy.deepcopy(spec)
    breakage(broken)
    assert any(expected in message for message in violations(broken))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_hardening_beyond_pss(env, rendered_envs):
    """No API token mounted, read-only root with a writable /tmp, the image's numeric user."""
    by_kind = kinds(rendered_envs[env])
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert by_kind["ServiceAccount"]["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsUser"] == pod["securityContext"]["runAsUser"] == 10001
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
