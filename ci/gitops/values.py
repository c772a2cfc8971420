"""Round-trip edits of a pipeline-owned values file: text in, text out, nothing else touched.

The YAML parser (ruamel.yaml) locates the exact characters of the scalar we own; only those
characters are replaced, so comments, key order, quoting and spacing of everything else stay
byte for byte. A missing key is added as one line after ``image.tag``, a removed key loses its
line; a file where that cannot be done by lines falls back to a ruamel round-trip dump.
The result is always parsed again, by ruamel and by Helm's own values parser (YAML 1.1: ``yes``,
``on``, ``y`` are booleans, ``1e3`` and ``0x1F`` numbers), and checked: only the owned keys may
have changed, and each owned value is the string written, to Helm as well.
"""

import enum
import functools
import io
from dataclasses import dataclass

import helm_python
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ci.errors import CiError, UsageError


class ValuesError(UsageError):
    """The values file cannot be read or does not have the expected shape (exit 2)."""


class Keep(enum.Enum):
    """``set_image(pipeline_url=KEEP, digest=KEEP)``: leave that key as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


# The keys of ``image`` the pipeline owns (``gitops/<env>/values.yaml``); people own the rest.
OWNED_KEYS = ("repository", "tag", "digest", "pipelineUrl")


@dataclass(frozen=True)
class Image:
    repository: str | None
    tag: str | None
    pipeline_url: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str | None:
        """What the chart renders for the pods: ``repository:tag``, plus ``@digest`` when pinned."""
        if not self.repository or not self.tag:
            return None
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def _load(text: str, name: str):
    try:
        data = _yaml().load(text)
    except YAMLError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "invalid YAML"
        raise ValuesError(f"{name}: not valid YAML ({first})") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise ValuesError(f"{name}: expected a mapping at the top level")
    image = data.get("image")
    if image is not None and not isinstance(image, dict):
        raise ValuesError(f"{name}: 'image' must be a mapping")
    return data


@functools.lru_cache(maxsize=64)
def _check_shape(text: str, name: str) -> None:
    """Shape and syntax errors, with ruamel's line numbers. A file passes or fails alike every
    time, so a read of a text already read is not parsed again (a failure is not cached)."""
    _load(text, name)


def helm_values(text: str, name: str = "values.yaml") -> dict:
    """The file as Helm reads it (sigs.k8s.io/yaml: YAML 1.1 scalars, then JSON)."""
    try:
        values = helm_python.values_from_yaml(text)
    except helm_python.HelmError as error:
        raise ValuesError(f"{name}: Helm cannot read it ({' '.join(str(error).split())})") from None
    return values if isinstance(values, dict) else {}


def _helm_text(value) -> str | None:
    """An owned value as Helm sees it, as text (None when absent or null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_image(text: str, name: str = "values.yaml") -> Image:
    """``image.repository``, ``image.tag``, ``image.digest`` and ``image.pipelineUrl`` as Helm
    reads them (None when absent; an empty pipelineUrl or digest is None too)."""
    _check_shape(text, name)
    image = helm_values(text, name).get("image") or {}
    if not isinstance(image, dict):
        raise ValuesError(f"{name}: 'image' must be a mapping")
    return Image(
        repository=_helm_text(image.get("repository")),
        tag=_helm_text(image.get("tag")),
        pipeline_url=_helm_text(image.get("pipelineUrl")) or None,
        digest=_helm_text(image.get("digest")) or None,
    )


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar: a tag like 12345678 or 1e10 must stay a string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _plain_safe(value: str) -> bool:
    """Whether ``value`` written unquoted reads back as the same string, to ruamel (YAML 1.2) and
    to Helm (YAML 1.1: not a boolean such as ``y``/``on``, a number such as ``1e3``, or null)."""
    if not value or value != value.strip() or "#" in value or ": " in value:
        return False
    line = f"key: {value}\n"
    try:
        loaded = YAML(typ="safe", pure=True).load(line)
    except YAMLError:
        return False
    if not isinstance(loaded, dict) or loaded.get("key") != value:
        return False
    try:
        return helm_python.values_from_yaml(line).get("key") == value
    except helm_python.HelmError:
        return False


def _render(value: str, style: str | None) -> str:
    """``value`` as a scalar, keeping the file's quoting style where that is safe."""
    if style is None and _plain_safe(value):
        return value
    if style == "'" and "'" not in value:
        return f"'{value}'"
    return _quoted(value)


def _image_children(text: str) -> list[tuple[ScalarNode, object]] | None:
    """The (key, value) nodes of the top-level ``image`` mapping, if it is one."""
    node = _image_node(text)
    return list(node.value) if node is not None else None


def _one_line_scalar(node) -> bool:
    return (
        isinstance(node, ScalarNode)
        and node.style in (None, '"', "'")
        and not getattr(node, "anchor", None)
        and node.start_mark.line == node.end_mark.line
    )


def _scalar_span(text: str, key: str) -> tuple[int, int, str | None, str] | None:
    """Span, quote style and prefix of ``image.<key>``'s one-line scalar, if it has one. An empty
    value (``tag:``) is the point right after the colon, written with a space before it."""
    for child_key, child_value in _image_children(text) or []:
        if child_key.value != key:
            continue
        if not _one_line_scalar(child_value):
            return None
        if child_value.value == "" and child_value.style is None:
            colon = text.find(":", child_key.end_mark.index)
            if colon < 0 or text[child_key.end_mark.index : colon].strip():
                return None
            return colon + 1, colon + 1, None, " "
        return child_value.start_mark.index, child_value.end_mark.index, child_value.style, ""
    return None


def _own_line(text: str, child_key, child_value) -> tuple[int, int] | None:
    """The span of the whole line(s) ``key: value  # comment`` when the entry has a line of its
    own in a block mapping (nothing but indentation before the key); else None."""
    if not _one_line_scalar(child_value) or child_key.start_mark.line != child_value.end_mark.line:
        return None
    start = text.rfind("\n", 0, child_key.start_mark.index) + 1
    if text[start : child_key.start_mark.index].strip(" "):
        return None
    end = text.find("\n", child_value.end_mark.index)
    return start, len(text) if end < 0 else end + 1


def _dump(data, like: str) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    text = out.getvalue()
    return text.replace("\n", "\r\n") if "\r\n" in like else text


def _image_node(text: str):
    node = _yaml().compose(text)
    if isinstance(node, MappingNode):
        for parent_key, parent_value in node.value:
            if parent_key.value == "image" and isinstance(parent_value, MappingNode):
                return parent_value
    return None


def _set_key(text: str, key: str, value: str, name: str) -> str:
    data = _load(text, name)
    span = _scalar_span(text, key)
    if span is not None:
        start, end, style, prefix = span
        return text[:start] + prefix + _render(value, style) + text[end:]
    image = _image_node(text)
    children = list(image.value) if image is not None else []
    if key not in {child_key.value for child_key, _ in children}:
        for child_key, child_value in children:
            if child_key.value != "tag" or not _one_line_scalar(child_value):
                continue
            if image.flow_style:
                # A flow mapping (or JSON): `, "key": "value"` right after the tag's value.
                end = child_value.end_mark.index
                return text[:end] + f", {_quoted(key)}: {_quoted(value)}" + text[end:]
            # A block mapping: one line after image.tag, indented like it.
            line = _own_line(text, child_key, child_value)
            if line:
                indent = " " * child_key.start_mark.column
                newline = "\r\n" if text[: line[1]].endswith("\r\n") else "\n"
                if not text[: line[1]].endswith("\n"):
                    newline_before = "\r\n" if "\r\n" in text else "\n"
                    return (
                        text + newline_before + f"{indent}{key}: {_quoted(value)}" + newline_before
                    )
                before = text[: line[1]]
                return before + f"{indent}{key}: {_quoted(value)}{newline}" + text[line[1] :]
    # The key (or image itself) is missing, or written in a form we do not splice: round-trip.
    if data.get("image") is None:
        data["image"] = CommentedMap()
    data["image"][key] = DoubleQuotedScalarString(value)
    return _dump(data, text)


def _remove_key(text: str, key: str, name: str) -> str:
    data = _load(text, name)
    image = data.get("image") or {}
    if key not in image:
        return text
    node = _image_node(text)
    children = list(node.value) if node is not None else []
    for index, (child_key, child_value) in enumerate(children):
        if child_key.value != key or len(children) < 2:
            continue
        if node.flow_style and _one_line_scalar(child_value):
            # `, key: value` (or `key: value, ` when first) goes, nothing else.
            if index:
                start = children[index - 1][1].end_mark.index
                return text[:start] + text[child_value.end_mark.index :]
            after = text.find(",", child_value.end_mark.index)
            if after >= 0:
                start = child_key.start_mark.index
                rest = text[after + 1 :]
                return text[:start] + rest[len(rest) - len(rest.lstrip(" ")) :]
        line = _own_line(text, child_key, child_value)
        if line and not node.flow_style:
            return text[: line[0]] + text[line[1] :]
    del image[key]
    return _dump(data, text)


def set_image(
    text: str,
    tag: str,
    repository: str | None = None,
    pipeline_url: str | Keep | None = KEEP,
    name: str = "values.yaml",
    digest: str | Keep | None = KEEP,
) -> str:
    """Return ``text`` with ``image.tag`` (and ``image.repository`` if given) set; nothing else.

    ``pipeline_url`` and ``digest``: a string sets the key, None removes it, KEEP leaves it.
    A new digest goes right after the tag, a new URL after that.
    """
    before = _load(text, name)
    helm_before = helm_values(text, name)
    result = _set_key(text, "tag", tag, name)
    expected: dict[str, str | None] = {"tag": tag}
    if repository is not None:
        result = _set_key(result, "repository", repository, name)
        expected["repository"] = repository
    for key, value in (("pipelineUrl", pipeline_url), ("digest", digest)):
        if isinstance(value, str):
            result = _set_key(result, key, value, name)
            expected[key] = value
        elif value is None:
            result = _remove_key(result, key, name)
            expected[key] = None
    after = _load(result, name)
    _check_only_owned_changed(_plain(before), _plain(after), expected)
    _check_only_owned_changed(helm_before, helm_values(result, name), expected)
    return result


def _plain(data):
    """Plain Python data of a loaded document, for comparisons."""
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def _check_only_owned_changed(old: dict, new: dict, expected: dict[str, str | None]) -> None:
    """``new`` is ``old`` with the ``expected`` owned keys (None: removed), each a string."""
    old, new = dict(old), dict(new)
    old_image = dict(old.pop("image", None) or {})
    new_image = dict(new.pop("image", None) or {})
    want = {**old_image, **expected}
    want = {key: value for key, value in want.items() if not (key in expected and value is None)}
    if old != new or new_image != want:
        raise CiError("internal error: the values edit changed more than the owned keys")
