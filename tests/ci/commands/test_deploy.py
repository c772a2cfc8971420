"""``python -m ci deploy --env ENV --tag TAG`` against a real bare remote over file://, as the
pipeline runs it: the commit (only the owned keys, trailers, the bot's identity), stale and newer
builds, --dry-run, the pipeline link and the digest, odd and unreadable values files, bad input."""

import pytest

from app import SERVICE_NAME
from ci.gitops.values import _plain_safe
from tests.ci.commands.writes import (
    DEV,
    GITLAB,
    PROD,
    A,
    B,
    deploy,
    image,
    must_deploy,
    pipeline_env,
    pipeline_of,
)
from tests.support.cli import run_ci
from tests.support.git_remotes import (
    git,
    make_bare_remote,
    make_source_repo,
    push_person_commit,
    show,
    tip,
)
from tests.support.gitlab_api import PROJECT_ID, running_gitlab

pytestmark = pytest.mark.integration

URL = "https://gitlab.example/acme/app/-/pipelines/5"


def test_deploy_commits_only_the_tag_with_message_trailers_and_bot_identity(remote):
    tag = remote.source.short(3)
    before = show(remote.bare, DEV)
    env = {
        **GITLAB,
        "CI_COMMIT_SHA": remote.source.commits[3],
        "GITOPS_AUTHOR_NAME": "Deploy Bot",
        "GITOPS_AUTHOR_EMAIL": "bot@example.com",
    }
    result = run_ci("deploy", "--repo", str(remote.bare), "--env", "dev", "--tag", tag, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"deploy(dev): {SERVICE_NAME} {tag} [skip ci]: pushed ")
    pipeline = f'  pipelineUrl: "{GITLAB["CI_PIPELINE_URL"]}"\n'
    assert show(remote.bare, DEV) == before.replace('"0.0.0-bootstrap"', f'"{tag}"') + pipeline
    assert show(remote.bare, PROD) == before.replace("values.dev.yaml", "values.prod.yaml")
    changed = git("show", "--name-only", "--format=", "main", cwd=remote.bare).split()
    assert changed == [DEV]
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert message.splitlines()[0] == f"deploy(dev): {SERVICE_NAME} {tag} [skip ci]"
    assert f"Source-Commit: {remote.source.commits[3]}" in message
    assert f"Pipeline: {GITLAB['CI_PIPELINE_URL']}" in message
    assert "Triggered-By: alice <alice@example.com>" in message
    who = git("log", "-1", "--format=%an <%ae>|%cn <%ce>", "main", cwd=remote.bare).strip()
    assert who == "Deploy Bot <bot@example.com>|Deploy Bot <bot@example.com>"
    # On top of the remote tip: the previous tip is the parent.
    assert remote.tip("main^") == remote.source.commits[-1]


def test_redeploying_the_same_tag_is_a_successful_no_op(remote):
    tag = remote.source.short(2)
    assert (
        run_ci("deploy", "--repo", str(remote.bare), "--env", "dev", "--tag", tag).returncode == 0
    )
    before = remote.tip()
    again = run_ci("deploy", "--repo", str(remote.bare), "--env", "dev", "--tag", tag)
    assert again.returncode == 0
    assert again.stdout == f"dev already runs {SERVICE_NAME} {tag}: nothing to do\n"
    assert remote.tip() == before


def test_stale_build_changes_nothing_and_force_writes_it_saying_so(remote):
    new, old = remote.source.short(8), remote.source.short(5)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", new).returncode == 0
    before = remote.tip()

    stale = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", old)
    assert stale.returncode == 0
    assert stale.stdout == (
        f"dev already runs {new}, a newer build than {old}: nothing to do"
        " (--force deploys it anyway)\n"
    )
    assert remote.tip() == before

    forced = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", old, "--force")
    assert forced.returncode == 0, forced.stderr
    assert remote.tag() == old
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert message.splitlines()[0] == f"deploy(dev): {SERVICE_NAME} {old} (forced) [skip ci]"
    assert f"Forced with --force over {new}, a newer build that was deployed." in message


def test_newer_build_replaces_older_one(remote):
    old, new = remote.source.short(1), remote.source.short(9)
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", old).returncode == 0
    assert run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", new).returncode == 0
    assert remote.tag() == new


def test_dry_run_prints_the_diff_and_pushes_nothing(remote):
    tag = remote.source.short(4)
    before = remote.tip()
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, "--dry-run")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        f"--- a/{DEV}",
        f"+++ b/{DEV}",
        "@@ -2,4 +2,4 @@",
        " # values.dev.yaml at the repository root instead. Argo CD layers this file last.",
        " image:",
        f"   repository: registry.example/{SERVICE_NAME}  # where the build pushes",
        '-  tag: "0.0.0-bootstrap"',
        f'+  tag: "{tag}"',
        f"dry run: would commit 'deploy(dev): {SERVICE_NAME} {tag} [skip ci]' (nothing pushed)",
    ]
    assert remote.tip() == before


def test_repository_flag_sets_image_repository_too(remote):
    tag = remote.source.short(2)
    env = {"IMAGE_REPOSITORY": f"127.0.0.1:5000/{SERVICE_NAME}"}
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, env=env)
    assert result.returncode == 0, result.stderr
    text = show(remote.bare, DEV)
    assert f"  repository: 127.0.0.1:5000/{SERVICE_NAME}  # where the build pushes\n" in text
    assert f'  tag: "{tag}"\n' in text


def test_runs_from_a_detached_pipeline_checkout_and_commits_on_the_remote_tip(remote, tmp_path):
    checkout = tmp_path / "pipeline"
    git("clone", "-q", "--depth=3", remote.url, str(checkout), cwd=tmp_path)
    git("checkout", "-q", "--detach", "HEAD~2", cwd=checkout)
    tag = remote.source.short(10)
    result = run_ci("deploy", "--env", "dev", "--tag", tag, cwd=checkout)
    assert result.returncode == 0, result.stderr
    assert remote.tip("main^") == remote.source.commits[-1]
    # The pipeline's checkout is left as it was.
    assert git("status", "--porcelain", cwd=checkout) == ""
    assert git("rev-parse", "HEAD", cwd=checkout).strip() == remote.source.commits[-3]


def test_deploy_writes_the_pipeline_url_and_a_laptop_deploy_removes_a_stale_one(remote):
    first, second, third = (remote.source.short(n) for n in (1, 2, 3))
    deployed = run_ci(
        "deploy",
        "--repo",
        remote.url,
        "--env",
        "dev",
        "--tag",
        first,
        env=pipeline_env(1, remote.source.commits[1]),
    )
    assert deployed.returncode == 0, deployed.stderr
    assert pipeline_of(remote) == pipeline_env(1)["CI_PIPELINE_URL"]
    written = show(remote.bare, DEV)
    assert written.endswith(
        f'  tag: "{first}"\n  pipelineUrl: "{pipeline_env(1)["CI_PIPELINE_URL"]}"\n'
    )

    # The same tag again, from the same or another pipeline: the tag is what matters, no commit.
    before = remote.tip()
    for number in (1, 9):
        again = run_ci(
            "deploy", "--repo", remote.url, "--env", "dev", "--tag", first, env=pipeline_env(number)
        )
        assert again.stdout == f"dev already runs {SERVICE_NAME} {first}: nothing to do\n"
    assert remote.tip() == before

    # A newer build from another pipeline replaces the URL in place.
    assert (
        run_ci(
            "deploy",
            "--repo",
            remote.url,
            "--env",
            "dev",
            "--tag",
            second,
            env=pipeline_env(2, remote.source.commits[2]),
        ).returncode
        == 0
    )
    assert show(remote.bare, DEV) == written.replace(first, second).replace(
        "/pipelines/1", "/pipelines/2"
    )

    # A deploy from a laptop (no CI_PIPELINE_URL) must not leave the link of another build.
    laptop = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", third)
    assert laptop.returncode == 0, laptop.stderr
    assert pipeline_of(remote) is None
    assert show(remote.bare, DEV) == show(remote.bare, PROD).replace("prod", "dev").replace(
        '"0.0.0-bootstrap"', f'"{third}"'
    )


def test_a_url_the_chart_would_reject_is_not_written(remote):
    env = {"CI_PIPELINE_URL": "file:///not a link|x"}
    result = run_ci(
        "deploy", "--repo", remote.url, "--env", "dev", "--tag", remote.source.short(1), env=env
    )
    assert result.returncode == 0, result.stderr
    assert pipeline_of(remote) is None


def test_a_pipeline_deploying_another_builds_tag_does_not_credit_itself(remote):
    """Provenance is the build's: a manual deploy of an older tag from pipeline 7 (commit 9)
    writes no link to pipeline 7, no Source-Commit of commit 9, and says which pipeline ran it."""
    own, other = remote.source.short(1), remote.source.short(2)
    env = pipeline_env(1, remote.source.commits[1])
    assert (
        run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", own, env=env).returncode
        == 0
    )
    deployer = pipeline_env(7, remote.source.commits[9])
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", other, env=deployer)
    assert result.returncode == 0, result.stderr
    assert pipeline_of(remote) is None
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert f"Source-Commit: {remote.source.commits[2]}" in message
    assert remote.source.commits[9] not in message
    assert f"Run-By-Pipeline: {deployer['CI_PIPELINE_URL']}" in message
    assert "\nPipeline:" not in message
    # The pipeline's own build, named by its build.env (IMAGE_TAG), is credited whatever its tag.
    built = {**deployer, "IMAGE_TAG": "release-7"}
    again = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", "release-7", env=built)
    assert again.returncode == 0, again.stderr
    assert pipeline_of(remote) == deployer["CI_PIPELINE_URL"]


def test_deploy_pins_the_build_dotenv_digest_only_for_the_build_tag(remote):
    first, second = remote.source.short(1), remote.source.short(2)
    must_deploy(remote, first, env={"IMAGE_TAG": first, "IMAGE_DIGEST": A})
    assert (image(remote).tag, image(remote).digest) == (first, A)
    assert f"Pinned image.digest {A}." in git("log", "-1", "--format=%B", cwd=remote.bare)

    # IMAGE_DIGEST describes IMAGE_TAG's build: deploying another tag must not pin it.
    must_deploy(remote, second, env={"IMAGE_TAG": first, "IMAGE_DIGEST": A})
    assert (image(remote).tag, image(remote).digest) == (second, None)
    # The file is back to its original shape: no digest line left behind.
    assert show(remote.bare, DEV) == show(remote.bare, PROD).replace("prod", "dev").replace(
        '"0.0.0-bootstrap"', f'"{second}"'
    )


def test_an_explicit_digest_wins_and_a_known_digest_for_the_same_tag_is_written(remote):
    first = remote.source.short(1)
    must_deploy(remote, first)
    assert image(remote).digest is None
    # Same tag, digest now known: a commit that pins it (the tag alone is not the whole build).
    result = must_deploy(remote, first, "--digest", B, env={"IMAGE_TAG": first, "IMAGE_DIGEST": A})
    assert "pushed" in result.stdout
    assert image(remote).digest == B
    again = must_deploy(remote, first, "--digest", B)
    assert again.stdout == f"dev already runs {SERVICE_NAME} {first}: nothing to do\n"


def test_a_malformed_digest_is_refused_before_anything_is_pushed(remote):
    before = git("rev-parse", "main", cwd=remote.bare)
    for digest in ("sha256:abc", "sha512:" + "a" * 128, "SHA256:" + "A" * 64, "sha256:" + "g" * 64):
        result = run_ci(
            "deploy", "--repo", remote.url, "--env", "dev", "--tag", "abc1234", "--digest", digest
        )
        assert result.returncode == 2
        assert result.stderr == (
            f"error: malformed image digest {digest!r}: expected sha256: and 64 hex digits\n"
        )
    bad_env = run_ci(
        "deploy",
        "--repo",
        remote.url,
        "--env",
        "dev",
        "--tag",
        "abc1234",
        env={"IMAGE_TAG": "abc1234", "IMAGE_DIGEST": "latest"},
    )
    assert bad_env.returncode == 2
    assert git("rev-parse", "main", cwd=remote.bare) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "qa", "--tag", "abc"], "unknown environment 'qa' for --env (known: dev, prod)"),
        (["--env", "argocd", "--tag", "abc"], "invalid environment name 'argocd'"),
        (["--env", "../dev", "--tag", "abc"], "invalid environment name '../dev'"),
        (["--tag", "abc"], "--env is required"),
        (["--env", "dev"], "--tag is required"),
        (["--env", "dev", "--tag="], "--tag is required"),
        (
            ["--env", "dev", "--tag=-abc"],
            "malformed image tag '-abc': expected 1-128 characters of [A-Za-z0-9_.-],"
            " not starting with '.' or '-'",
        ),
        (
            ["--env", "dev", "--tag", "a/b"],
            "malformed image tag 'a/b': expected 1-128 characters of [A-Za-z0-9_.-],"
            " not starting with '.' or '-'",
        ),
        (
            ["--env", "dev", "--tag", "x" * 129],
            f"malformed image tag '{'x' * 129}': expected 1-128 characters of [A-Za-z0-9_.-],"
            " not starting with '.' or '-'",
        ),
        (["--env", "dev", "--tag", "abc", "--branch", "nope"], "branch 'nope' not found in {url}"),
    ],
)
def test_bad_deploy_input_exits_2_with_one_line(remote, args, message):
    before = remote.tip()
    result = run_ci("deploy", "--repo", remote.url, *args)
    assert result.returncode == 2
    assert result.stderr == f"error: {message.format(url=remote.url)}\n"
    assert result.stdout == ""
    assert remote.tip() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "image: [unclosed\n",
            "gitops/dev/values.yaml: not valid YAML (while parsing a flow sequence)",
        ),
        ("image: just-a-string\n", "gitops/dev/values.yaml: 'image' must be a mapping"),
        ("- a list\n", "gitops/dev/values.yaml: expected a mapping at the top level"),
    ],
)
def test_unreadable_values_file_exits_2(tmp_path, content, message):
    source = make_source_repo(tmp_path / "source", commits=1)
    (source.path / "gitops" / "dev" / "values.yaml").write_text(content)
    git("commit", "-q", "-am", "break the values file", cwd=source.path)
    bare = make_bare_remote(source.path, tmp_path / "remote.git")
    before = tip(bare)
    result = run_ci("deploy", "--repo", str(bare), "--env", "dev", "--tag", "abc")
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"
    assert tip(bare) == before


def raw(remote, path: str = DEV) -> bytes:
    import subprocess

    return subprocess.run(
        ["git", "cat-file", "blob", f"main:{path}"],
        cwd=remote.bare,
        capture_output=True,
        check=True,
    ).stdout


def own_pipeline(remote, index: int) -> dict[str, str]:
    return {"CI_PIPELINE_URL": URL, "CI_COMMIT_SHA": remote.source.commits[index]}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"# crlf\r\nimage:\r\n  repository: registry.example/app  # r\r\n"
            b'  tag: "0.0.0-bootstrap"\r\n',
            b"# crlf\r\nimage:\r\n  repository: registry.example/app  # r\r\n"
            b'  tag: "{tag}"\r\n  pipelineUrl: "{url}"\r\n',
        ),
        (
            b"image:\n  repository: registry.example/app\n  tag:",
            b'image:\n  repository: registry.example/app\n  tag: {ptag}\n  pipelineUrl: "{url}"\n',
        ),
        (
            b"image:\n  tag: # set by the pipeline\n  repository: registry.example/app\n",
            b'image:\n  tag: {ptag} # set by the pipeline\n  pipelineUrl: "{url}"\n'
            b"  repository: registry.example/app\n",
        ),
        (
            b'{"image": {"repository": "registry.example/app", "tag": "0.0.0-bootstrap"}}\n',
            b'{"image": {"repository": "registry.example/app", "tag": "{tag}", "pipelineUrl":'
            b' "{url}"}}\n',
        ),
        (
            b"image: {\n  repository: registry.example/app,\n  tag: old\n}\n",
            b"image: {\n  repository: registry.example/app,\n"
            b'  tag: {ptag}, "pipelineUrl": "{url}"\n}\n',
        ),
        (
            b"image:\n  repository: &repo registry.example/app\n  tag: old\n"
            b"podLabels:\n  repo-name: app\n",
            b"image:\n  repository: &repo registry.example/app\n  tag: {ptag}\n"
            b'  pipelineUrl: "{url}"\npodLabels:\n  repo-name: app\n',
        ),
    ],
    ids=["crlf", "empty-tag-last-line", "empty-tag-comment", "json", "flow-multiline", "anchor"],
)
def test_odd_but_valid_files_deploy_changing_only_the_owned_scalars(remote, content, expected):
    push_person_commit(remote.bare, {DEV: content}, "dev: an odd file")
    tag = remote.source.short(4)
    result = run_ci(
        "deploy", "--repo", remote.url, "--env", "dev", "--tag", tag, env=own_pipeline(remote, 4)
    )
    assert result.returncode == 0, result.stderr
    # A plain (unquoted or empty) tag stays plain where Helm and YAML 1.2 read it as the string.
    plain = tag if _plain_safe(tag) else f'"{tag}"'
    want = expected.replace(b"{tag}", tag.encode()).replace(b"{ptag}", plain.encode())
    want = want.replace(b"{url}", URL.encode())
    assert raw(remote) == want


@pytest.mark.parametrize(
    ("files", "symlinks", "message"),
    [
        ({DEV: b"image:\n  tag: caf\xe9\n"}, None, f"{DEV} is not UTF-8 (byte 17: 0xe9)"),
        ({DEV: None}, {DEV: "../prod/values.yaml"}, f"{DEV} is a symlink; expected a regular file"),
        ({DEV: b"image: {tag: [\n"}, None, f"{DEV}: not valid YAML"),
        ({DEV: b"image:\n  tag: .nan\n"}, None, f"{DEV}: Helm cannot read it"),
    ],
    ids=["not-utf8", "symlink", "unparseable", "helm-unreadable"],
)
def test_unreadable_files_are_one_line_exit_2_and_status_lists_the_others(
    remote, files, symlinks, message
):
    push_person_commit(remote.bare, files, "dev: a broken file", symlinks=symlinks)
    before = remote.tip()
    result = run_ci("deploy", "--repo", remote.url, "--env", "dev", "--tag", "abc")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {message}")
    assert len(result.stderr.splitlines()) == 1
    assert remote.tip() == before
    status = run_ci("status", "--repo", remote.url)
    assert status.returncode == 0, status.stderr
    dev, prod = status.stdout.splitlines()[1:]
    assert dev.startswith("dev ")
    assert f"error: {message}" in dev
    assert prod.split()[:2] == ["prod", "0.0.0-bootstrap"]


def test_an_unknown_environment_among_thousands_is_one_readable_line(tmp_path):
    envs = tuple(f"e{number:04d}" for number in range(2000))
    source = make_source_repo(tmp_path / "source", commits=1, envs=envs)
    bare = make_bare_remote(source.path, tmp_path / "remote.git")
    result = run_ci("deploy", "--repo", bare.as_uri(), "--env", "qa", "--tag", "abc")
    assert result.returncode == 2
    assert result.stderr == (
        "error: unknown environment 'qa' for --env (known: e0000, e0001, e0002, e0003, e0004,"
        " e0005, e0006, e0007, e0008, e0009 and 1990 more)\n"
    )
    assert show(bare, "gitops/e0000/values.yaml")


def test_a_malformed_hold_file_stops_deploy_with_exit_2_and_status_shows_it(remote):
    work = remote.source.path
    (work / "gitops" / "dev" / "hold.yaml").write_text("by: [unclosed\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "broken hold", cwd=work)
    git("push", "-q", str(remote.bare), "HEAD:main", cwd=work)
    result = deploy(remote, remote.source.short(2))
    assert result.returncode == 2
    assert result.stderr.startswith("error: gitops/dev/hold.yaml: not valid YAML")
    assert len(result.stderr.splitlines()) == 1
    status = run_ci("status", "--repo", remote.url)
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert "error: gitops/dev/hold.yaml: not valid YAML" in lines[1]
    assert lines[2].startswith("prod")


def test_a_gitlab_deploy_freeze_read_when_deploy_runs_refuses_it(remote, tmp_path):
    """GitLab sets $CI_DEPLOY_FREEZE when the pipeline is created; deploy asks the API itself."""
    token = f"glpat-freeze-{tmp_path.name}"
    tag = remote.source.short(3)
    before = show(remote.bare, DEV)
    with running_gitlab(remote.bare, token) as api:
        api.add_freeze("* * * * *", "0 0 1 1 *")  # open since this minute, until New Year
        env = {"CI_SERVER_URL": api.base_url, "CI_PROJECT_ID": str(PROJECT_ID)}
        env["GITOPS_TOKEN"] = token
        refused = deploy(remote, tag, env=env)
        assert refused.returncode == 1
        assert refused.stderr.startswith("error: dev is frozen until ")
        assert "UTC: GitLab deploy freeze; nothing pushed" in refused.stderr
        assert show(remote.bare, DEV) == before
        forced = deploy(remote, tag, "--override", "freeze", "--reason", "INC-7 fix", env=env)
        assert forced.returncode == 0, forced.stderr
    message = git("log", "-1", "--format=%B", "main", cwd=remote.bare)
    assert "Freeze-Override: INC-7 fix" in message
    assert token not in refused.stderr + forced.stderr + forced.stdout
