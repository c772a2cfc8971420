"""``ci.gitops.render``: nothing Argo CD cannot render is pushed. Each changed environment is
rendered on the planned tree with ci.chart (Helm's engine, values.schema.json) first; a failure
names the file and key."""

import pytest

from app import SERVICE_NAME
from tests.support.cli import run_ci
from tests.support.git_remotes import push_person_commit, show

pytestmark = pytest.mark.integration

DEV = "gitops/dev/values.yaml"


def deploy(remote, tag: str, env: str = "dev", *extra: str):
    return run_ci("deploy", "--repo", remote.url, "--env", env, "--tag", tag, *extra)


def one_error_line(result) -> str:
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_persons_broken_values_file_is_named_with_its_key_and_nothing_is_pushed(remote):
    people = (remote.source.path / "values.dev.yaml").read_text()
    push_person_commit(
        remote.bare,
        {"values.dev.yaml": people.replace("replicaCount: 1", 'replicaCount: "two"')},
        "dev: two replicas",
    )
    before = remote.tip()
    result = deploy(remote, remote.source.short(3))
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith("error: dev does not render on the branch already (fix that first): ")
    assert "at '/replicaCount': got string, want integer" in line
    assert line.endswith("[values.dev.yaml: replicaCount]: nothing pushed")
    assert remote.tip() == before
    # The dry run renders too; other environments are not blocked by dev's file.
    assert deploy(remote, remote.source.short(3), "dev", "--dry-run").returncode == 1
    prod = deploy(remote, remote.source.short(3), "prod")
    assert prod.returncode == 0, prod.stderr
    # A hold changes nothing Argo CD renders: it is not blocked either.
    held = run_ci(
        "hold", "--repo", remote.url, "--env", "dev", "--reason", "values.dev.yaml broken"
    )
    assert held.returncode == 0, held.stderr


def test_a_key_in_the_pipelines_file_is_named_in_that_file(remote):
    text = show(remote.bare, DEV)
    push_person_commit(
        remote.bare,
        {
            DEV: text.replace(
                '  tag: "0.0.0-bootstrap"\n', '  tag: "0.0.0-bootstrap"\n  pullPolicy: Sometimes\n'
            )
        },
        "dev: pull policy",
    )
    result = deploy(remote, remote.source.short(3))
    assert result.returncode == 1
    line = one_error_line(result)
    assert "at '/image/pullPolicy'" in line
    assert line.endswith(f"[{DEV}: image.pullPolicy]: nothing pushed")


def test_a_change_that_breaks_the_render_is_refused_with_helms_words(remote):
    deployment = "helm-chart/templates/deployment.yaml"
    template = show(remote.bare, deployment)
    banned = (
        '{{- if eq .Values.image.tag "deadbeef" }}{{ fail "image deadbeef is banned" }}{{ end }}\n'
    )
    push_person_commit(remote.bare, {deployment: banned + template}, "chart: ban deadbeef")
    before = remote.tip()
    result = deploy(remote, "deadbeef")
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith("error: dev would not render with this change: ")
    assert "image deadbeef is banned" in line
    assert line.endswith(": nothing pushed")
    assert remote.tip() == before
    assert deploy(remote, remote.source.short(4)).returncode == 0


def test_yaml_1_1_words_and_numbers_are_deployed_as_strings_helm_renders(remote):
    """A tag such as `on`, `1e3` or `0777` is a boolean or a number to Helm unless quoted; written
    over a plain `tag: v1` it is quoted, so the chart (tag: string) renders."""
    text = show(remote.bare, DEV).replace('"0.0.0-bootstrap"', "v1")
    push_person_commit(remote.bare, {DEV: text}, "dev: plain tag")
    for tag in ("on", "1e3", "0777", "Y", "null"):
        result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, "--force")
        assert result.returncode == 0, result.stderr
        assert f'  tag: "{tag}"\n' in show(remote.bare, DEV)


def test_an_environment_argo_cd_does_not_deploy_is_refused(remote):
    push_person_commit(
        remote.bare, {"gitops/argocd/applicationset.yaml": None}, "argocd: remove the appset"
    )
    result = deploy(remote, remote.source.short(2))
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith("error: dev: Argo CD would not render it: ")


def test_a_parameter_override_file_argo_cd_would_merge_stops_the_deploy(remote):
    """The write-back reads the Applications as check does: what it cannot model, it refuses."""
    override = f"helm-chart/.argocd-source-{SERVICE_NAME}-dev.yaml"
    push_person_commit(
        remote.bare,
        {override: "helm:\n  parameters:\n  - name: image.tag\n    value: other\n"},
        "an override",
    )
    before = remote.tip()
    result = deploy(remote, remote.source.short(3))
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith(f"error: dev: Argo CD would not render it: {override}: Argo CD would ")
    assert "merge this parameter override file" in line
    assert remote.tip() == before


def test_another_environments_unreadable_file_does_not_block_a_deploy(remote):
    """Each Application is generated from its own gitops/<env>/values.yaml: prod renders (in Argo
    CD too) whatever dev's file holds."""
    push_person_commit(remote.bare, {DEV: b"image: {tag: [\n"}, "dev: a broken file")
    result = run_ci("deploy", "--repo", remote.url, "--env", "prod", "--tag", "abc")
    assert result.returncode == 0, result.stderr


def test_a_persons_non_utf8_values_file_fails_the_render_in_one_line(remote):
    push_person_commit(remote.bare, {"values.dev.yaml": b"replicaCount: 1 # \xff\n"}, "oops")
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", "abc")
    assert result.returncode == 1
    assert (
        result.stderr
        == "error: dev would not render: values.dev.yaml is not UTF-8: nothing pushed\n"
    )
