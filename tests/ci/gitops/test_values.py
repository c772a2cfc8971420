"""The values edit is pure and round-trip: only the owned key changes, byte for byte elsewhere."""

import helm_python
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import SERVICE_NAME
from ci.errors import UsageError
from ci.gitops.values import OWNED_KEYS, ValuesError, helm_values, read_image, set_image

BASE = f"""\
# Owned by the pipeline.
image:
  repository: registry.example/{SERVICE_NAME}  # where the build pushes
  tag: "0.0.0-bootstrap"   # set by deploy
  pullPolicy: IfNotPresent
"""


def test_only_the_tag_scalar_changes():
    assert set_image(BASE, "abc12345") == BASE.replace('"0.0.0-bootstrap"', '"abc12345"')


def test_numeric_looking_tags_stay_strings():
    for tag in ("12345678", "1e10", "0x1f", "true", "null", "1.0"):
        assert read_image(set_image(BASE, tag)).tag == tag
        plain = BASE.replace('"0.0.0-bootstrap"', "v1")
        assert read_image(set_image(plain, tag)).tag == tag


def test_quoting_style_is_kept():
    single = BASE.replace('"0.0.0-bootstrap"', "'old'")
    assert "  tag: 'new-1'   # set by deploy\n" in set_image(single, "new-1")
    plain = BASE.replace('"0.0.0-bootstrap"', "old")
    assert "  tag: new-1   # set by deploy\n" in set_image(plain, "new-1")


def test_repository_is_set_only_when_given():
    out = set_image(BASE, "t1", repository=f"127.0.0.1:5000/{SERVICE_NAME}")
    assert out == BASE.replace('"0.0.0-bootstrap"', '"t1"').replace(
        f"registry.example/{SERVICE_NAME}", f"127.0.0.1:5000/{SERVICE_NAME}"
    )


def test_flow_mapping_is_edited_in_place():
    text = "image: {repository: r/x, tag: old}  # flow\nreplicas: 2\n"
    assert set_image(text, "new") == "image: {repository: r/x, tag: new}  # flow\nreplicas: 2\n"


def test_missing_keys_are_added_keeping_comments():
    out = set_image("# header\nreplicas: 2  # two\n", "abc")
    assert out.startswith("# header\nreplicas: 2  # two\n")
    assert read_image(out).tag == "abc"
    out = set_image("image:\n  repository: r/x  # repo\n", "abc")
    assert out.startswith("image:\n  repository: r/x  # repo\n")
    assert read_image(out) == read_image('image: {repository: r/x, tag: "abc"}')


def test_block_scalar_tag_falls_back_to_round_trip():
    out = set_image("# c\nimage:\n  tag: |\n    old\n  repository: r\n", "new")
    assert out.startswith("# c\nimage:\n")
    assert read_image(out).tag == "new"
    assert read_image(out).repository == "r"


URL = "https://gitlab.example/g/p/-/pipelines/42"


def test_pipeline_url_is_added_after_the_tag_replaced_in_place_and_removed_with_its_line():
    added = set_image(BASE, "t1", pipeline_url=URL)
    assert added == BASE.replace(
        '"0.0.0-bootstrap"   # set by deploy\n',
        f'"t1"   # set by deploy\n  pipelineUrl: "{URL}"\n',
    )
    assert read_image(added).pipeline_url == URL
    other = URL.replace("42", "43")
    assert set_image(added, "t2", pipeline_url=other) == added.replace("t1", "t2").replace(
        URL, other
    )
    assert set_image(added, "t1", pipeline_url=None) == BASE.replace('"0.0.0-bootstrap"', '"t1"')
    # Absent and asked to be absent: nothing to do. KEEP (the default) leaves it alone.
    assert set_image(BASE, "0.0.0-bootstrap", pipeline_url=None) == BASE
    assert set_image(added, "t1") == added


def test_pipeline_url_in_a_flow_mapping_and_without_a_tag_line():
    flow = "image: {repository: r/x, tag: old, pipelineUrl: 'https://a/1'}  # flow\n"
    out = set_image(flow, "new", pipeline_url=None)
    assert read_image(out) == read_image("image: {repository: r/x, tag: new}")
    out = set_image("image: {tag: old}\nreplicas: 2  # two\n", "new", pipeline_url=URL)
    assert read_image(out).pipeline_url == URL
    assert "replicas: 2  # two\n" in out
    out = set_image("# c\nimage:\n  tag: |\n    old\n  pipelineUrl: x\n", "new", pipeline_url=None)
    assert out.startswith("# c\nimage:\n")
    assert read_image(out) == read_image("image: {tag: new}")


def test_an_empty_pipeline_url_reads_as_none():
    assert read_image('image: {tag: t, pipelineUrl: ""}').pipeline_url is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image: [", "values.yaml: not valid YAML"),
        ("image: 3\n", "values.yaml: 'image' must be a mapping"),
        ("[1, 2]\n", "values.yaml: expected a mapping at the top level"),
    ],
)
def test_unreadable_files_raise_usage_errors(text, message):
    with pytest.raises(ValuesError) as error:
        set_image(text, "t")
    assert str(error.value).startswith(message)
    assert isinstance(error.value, UsageError)


# -- fuzzing ------------------------------------------------------------------------------------


def _helm_reads_as_string_key(word: str) -> bool:
    """Keys such as ``null``, ``y`` or ``on`` are not strings to Helm (YAML 1.1): such a file does
    not render, a separate case (tested below)."""
    try:
        return helm_python.values_from_yaml(f"{word}: 1\n") == {word: 1}
    except helm_python.HelmError:
        return False


WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).filter(
    _helm_reads_as_string_key
)
COMMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 .,:-'\"#", max_size=30)
TAGS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,40}", fullmatch=True)
SCALARS = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["true", "false", "null", "~", '"quoted # not a comment"', "'single'"]),
    WORDS,
)


def _comment(text: str) -> str:
    return f"  # {text}" if text else ""


@st.composite
def documents(draw):
    indent = " " * draw(st.sampled_from([2, 4]))
    lines = [f"# {c}" for c in draw(st.lists(COMMENT, max_size=3))]
    style = draw(st.sampled_from(['"{}"', "'{}'", "{}"]))
    old_tag = draw(TAGS.filter(lambda t: "'" not in t))
    if style == "{}":
        old_tag = "v" + old_tag  # a plain tag that reads as a string
    image_entries = [
        f"{indent}tag: {style.format(old_tag)}{_comment(draw(COMMENT))}",
        f"{indent}repository: registry.example/{draw(WORDS)}{_comment(draw(COMMENT))}",
    ]
    for key in draw(st.lists(WORDS, max_size=3, unique=True)):
        if key not in ("tag", "repository"):
            image_entries.append(f"{indent}{key}: {draw(SCALARS)}{_comment(draw(COMMENT))}")
    image_entries = draw(st.permutations(image_entries))
    blocks = [["image:" + _comment(draw(COMMENT)), *image_entries]]
    for key in draw(st.lists(WORDS.filter(lambda k: k != "image"), max_size=4, unique=True)):
        if draw(st.booleans()):
            blocks.append([f"{key}: {draw(SCALARS)}{_comment(draw(COMMENT))}"])
        else:
            items = draw(st.lists(SCALARS, min_size=1, max_size=3))
            blocks.append([f"{key}:", *(f"{indent}- {item}" for item in items)])
    if draw(st.booleans()):
        blocks.append([f"# trailing {draw(COMMENT)}"])
    for block in draw(st.permutations(blocks)):
        lines += block
        if draw(st.booleans()):
            lines.append("")
    return "\n".join(lines) + "\n"


# Hundreds of round trips: in the integration tier (unit stays under a minute).
@pytest.mark.integration
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=documents(), tag=TAGS)
def test_fuzz_only_the_tag_line_changes(text, tag):
    out = set_image(text, tag)
    assert read_image(out).tag == tag
    before, after = text.splitlines(), out.splitlines()
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) <= 1
    for i in changed:
        assert before[i].lstrip().startswith("tag:")
        assert after[i].lstrip().startswith("tag:")
    # Applying the same tag again is the identity.
    assert set_image(out, tag) == out


# Hundreds of round trips: in the integration tier (unit stays under a minute).
@pytest.mark.integration
@settings(max_examples=100, deadline=None)
@given(text=documents(), tag=TAGS, name=WORDS)
def test_fuzz_repository_and_tag_change_only_their_lines(text, tag, name):
    repository = f"127.0.0.1:5000/{name}"
    out = set_image(text, tag, repository=repository)
    assert read_image(out).tag == tag
    assert read_image(out).repository == repository
    changed = [
        b.lstrip().split(":", 1)[0]
        for a, b in zip(text.splitlines(), out.splitlines(), strict=True)
        if a != b
    ]
    assert set(changed) <= {"tag", "repository"}


# Hundreds of round trips: in the integration tier (unit stays under a minute).
@pytest.mark.integration
@settings(max_examples=150, deadline=None)
@given(text=documents(), tag=TAGS, number=st.integers(0, 10**9))
def test_fuzz_pipeline_url_adds_and_removes_one_line(text, tag, number):
    url = f"https://gitlab.example/g/p/-/pipelines/{number}"
    out = set_image(text, tag, pipeline_url=url)
    assert read_image(out).pipeline_url == url
    tag_only = set_image(text, tag)
    assert tag_only.splitlines() == [
        line for line in out.splitlines() if not line.lstrip().startswith("pipelineUrl:")
    ]
    assert set_image(out, tag, pipeline_url=url) == out
    # Removing it gives back exactly the file with only the tag changed.
    assert set_image(out, tag, pipeline_url=None) == tag_only


DIGEST = "sha256:" + "ab" * 32


def test_digest_goes_right_after_the_tag_is_replaced_in_place_and_removed_with_its_line():
    pinned = set_image(BASE, "t1", digest=DIGEST, pipeline_url=URL)
    assert pinned == BASE.replace(
        '"0.0.0-bootstrap"   # set by deploy\n',
        f'"t1"   # set by deploy\n  digest: "{DIGEST}"\n  pipelineUrl: "{URL}"\n',
    )
    image = read_image(pinned)
    assert (image.digest, image.reference) == (
        DIGEST,
        f"registry.example/{SERVICE_NAME}:t1@{DIGEST}",
    )
    other = "sha256:" + "cd" * 32
    assert set_image(pinned, "t2", digest=other) == pinned.replace("t1", "t2").replace(
        DIGEST, other
    )
    # KEEP (the default) leaves the digest alone; None removes the line, nothing else.
    assert set_image(pinned, "t1") == pinned
    assert set_image(pinned, "t1", digest=None, pipeline_url=None) == BASE.replace(
        '"0.0.0-bootstrap"', '"t1"'
    )


def test_a_file_without_digest_reads_as_unpinned():
    image = read_image(BASE)
    assert image.digest is None
    assert image.reference == f"registry.example/{SERVICE_NAME}:0.0.0-bootstrap"
    assert read_image('image: {repository: r/x, tag: t, digest: ""}').reference == "r/x:t"
    assert read_image("image: {tag: t}").reference is None


# -- any file shape x any tag, re-read with Helm's own values parser ------------------------------

# Words and numbers YAML 1.1 (Helm) reads as booleans, null or numbers when unquoted.
YAML_11_TAGS = st.sampled_from(
    [
        *("y", "Y", "n", "yes", "No", "on", "OFF", "true", "null", "1e3", "0777", "0x1F"),
        *("1_000", "0b101", "12345678", "1e10", "2001-12-14", "1.0", "08"),
    ]
)
OLD_TAGS = st.sampled_from(['"0.0.0-bootstrap"', "'v1'", "v1", "yes", "1e3", "on", "12345678"])
SHAPES = [
    "image:\n  repository: registry.example/app  # r\n  tag: {old}  # t\n  pullPolicy: Always\n",
    "image:\n  repository: registry.example/app\n  tag: {old}",
    "image:\n  tag:{comment}\n  repository: registry.example/app\n",
    "image:\n  repository: registry.example/app\n  tag:",
    '{{"image": {{"repository": "registry.example/app", "tag": {old}}}, "replicaCount": 2}}\n',
    "image: {{\n  tag: {old},\n  repository: registry.example/app\n}}\nreplicaCount: 2\n",
    "base: &b\n  x: 1\nimage:\n  repository: &r registry.example/app\n  tag: {old}\nother: *b\n",
]


@st.composite
def shaped_files(draw):
    shape = draw(st.sampled_from(SHAPES))
    old = draw(OLD_TAGS)
    if shape.startswith("{"):
        old = '"' + old.strip("'\"") + '"'  # JSON strings only
    text = shape.format(old=old, comment=draw(st.sampled_from(["", " # empty"])))
    return text.replace("\n", "\r\n") if draw(st.booleans()) else text


# Hundreds of round trips: in the integration tier (unit stays under a minute).
@pytest.mark.integration
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=shaped_files(),
    tag=st.one_of(TAGS, YAML_11_TAGS),
    url=st.one_of(st.none(), st.just("https://gitlab.example/g/p/-/pipelines/7")),
    repository=st.one_of(st.none(), st.sampled_from(["127.0.0.1:5000/app", "ecr.example/on"])),
)
def test_fuzz_every_shape_and_tag_is_the_same_string_to_helm(text, tag, url, repository):
    before = helm_values(text)
    out = set_image(text, tag, repository=repository, pipeline_url=url)
    after = helm_values(out)  # Helm's own parser (helm-python-sdk), not ruamel
    image = after.pop("image")
    assert image["tag"] == tag
    if repository:
        assert image["repository"] == repository
    assert image.get("pipelineUrl") == url
    old_image = before.pop("image")
    assert after == before
    assert {k: v for k, v in image.items() if k not in OWNED_KEYS} == {
        k: v for k, v in old_image.items() if k not in OWNED_KEYS
    }
    if "\r\n" in text:
        assert out.count("\n") == out.count("\r\n")  # line endings kept
    assert set_image(out, tag, repository=repository, pipeline_url=url) == out


@pytest.mark.parametrize("name", ["gitops/dev/values.yaml", "gitops/prod/values.yaml"])
def test_a_text_read_again_is_judged_alike(name) -> None:
    """read_image does not parse a text it validated before; a failure is judged anew and
    names the file it was read as."""
    good = "image:\n  repository: r\n  tag: t1\n"
    assert read_image(good, name) == read_image(good, name)
    for _ in range(2):
        with pytest.raises(ValuesError, match=f"^{name}: not valid YAML"):
            read_image("image: [\n", name)
