"""Round-trip edits of a pipeline-owned values file: text in, text out, nothing else touched.

The YAML parser (ruamel.yaml) locates the exact characters of the scalar we own; only those
characters are replaced, so comments, key order, quoting and spacing of everything else stay
byte for byte. A missing key is added as one line after ``image.tag``, a removed key loses its
line; a file where that cannot be done by lines falls back to a ruamel round-trip dump.
The result is always parsed again and checked: only the owned keys may have changed.
"""

import enum
import io
from dataclasses import dataclass

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


def read_image(text: str, name: str = "values.yaml") -> Image:
    """``image.repository``, ``image.tag``, ``image.pipelineUrl`` and ``image.digest`` of a values
    file (None when absent; an empty pipelineUrl or digest is None too)."""
    image = _load(text, name).get("image") or {}
    repository, tag, pipeline_url, digest = (
        image.get(k) for k in ("repository", "tag", "pipelineUrl", "digest")
    )
    return Image(
        repository=None if repository is None else str(repository),
        tag=None if tag is None else str(tag),
        pipeline_url=str(pipeline_url) if pipeline_url else None,
        digest=str(digest) if digest else None,
    )


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar: a tag like 12345678 or 1e10 must stay a string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _plain_safe(value: str) -> bool:
    """Whether ``value`` written unquoted reads back as the same string (not a number, bool...)."""
    if not value or value != value.strip() or "#" in value or ": " in value:
        return False
    try:
        loaded = YAML(typ="safe", pure=True).load(f"key: {value}\n")
    except YAMLError:
        return False
    return isinstance(loaded, dict) and loaded.get("key") == value


def _render(value: str, style: str | None) -> str:
    """``value`` as a scalar, keeping the file's quoting style where that is safe."""
    if style is None and _plain_safe(value):
        return value
    if style == "'" and "'" not in value:
        return f"'{value}'"
    return _quoted(value)


def _image_children(text: str) -> list[tuple[ScalarNode, object]] | None:
    """The (key, value) nodes of the top-level ``image`` block mapping, if it is one."""
    node = _yaml().compose(text)
    if not isinstance(node, MappingNode):
        return None
    for parent_key, parent_value in node.value:
        if parent_key.value == "image" and isinstance(parent_value, MappingNode):
            return list(parent_value.value)
    return None


def _one_line_scalar(node) -> bool:
    return (
        isinstance(node, ScalarNode)
        and node.style in (None, '"', "'")
        and not getattr(node, "anchor", None)
        and node.start_mark.line == node.end_mark.line
    )


def _scalar_span(text: str, key: str) -> tuple[int, int, str] | None:
    """Character span and quote style of ``image.<key>``'s plain one-line scalar, if it has one."""
    for child_key, child_value in _image_children(text) or []:
        if child_key.value != key:
            continue
        if not _one_line_scalar(child_value):
            return None
        return child_value.start_mark.index, child_value.end_mark.index, child_value.style
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


def _dump(data) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _set_key(text: str, key: str, value: str, name: str) -> str:
    data = _load(text, name)
    span = _scalar_span(text, key)
    if span is not None:
        start, end, style = span
        rendered = _render(value, style)
        return text[:start] + rendered + text[end:]
    children = _image_children(text) or []
    if key not in {child_key.value for child_key, _ in children}:
        # A new key: one line after image.tag, indented like it, when tag has a line of its own.
        for child_key, child_value in children:
            line = child_key.value == "tag" and _own_line(text, child_key, child_value)
            if line:
                indent = " " * child_key.start_mark.column
                newline = "\r\n" if text[: line[1]].endswith("\r\n") else "\n"
                before = text[: line[1]] if text[: line[1]].endswith("\n") else text + "\n"
                return before + f"{indent}{key}: {_quoted(value)}{newline}" + text[line[1] :]
    # The key (or image itself) is missing, or written in a form we do not splice: round-trip.
    if data.get("image") is None:
        data["image"] = CommentedMap()
    data["image"][key] = DoubleQuotedScalarString(value)
    return _dump(data)


def _remove_key(text: str, key: str, name: str) -> str:
    data = _load(text, name)
    image = data.get("image") or {}
    if key not in image:
        return text
    children = _image_children(text) or []
    for child_key, child_value in children:
        if child_key.value == key and len(children) > 1:
            line = _own_line(text, child_key, child_value)
            if line:
                return text[: line[0]] + text[line[1] :]
    del image[key]
    return _dump(data)


def set_image(
    text: str,
    tag: str,
    repository: str | None = None,
    pipeline_url: str | Keep | None = KEEP,
    name: str = "values.yaml",
    digest: str | Keep | None = KEEP,
) -> str:
    """Return ``text`` with ``image.tag`` (and ``image.repository`` if given) set; nothing else.

    ``pipeline_url`` and ``digest``: a string sets ``image.pipelineUrl`` / ``image.digest``, None
    removes it, KEEP leaves it alone. A new digest goes right after the tag, a new URL after that.
    """
    before = _load(text, name)
    result = _set_key(text, "tag", tag, name)
    if repository is not None:
        result = _set_key(result, "repository", repository, name)
    for key, value in (("pipelineUrl", pipeline_url), ("digest", digest)):
        if isinstance(value, str):
            result = _set_key(result, key, value, name)
        elif value is None:
            result = _remove_key(result, key, name)
    after = _load(result, name)
    _check_only_image_changed(before, after, tag, repository, pipeline_url, digest)
    return result


def _plain(data):
    """Plain Python data of a loaded document, for comparisons."""
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def _check_only_image_changed(
    before,
    after,
    tag: str,
    repository: str | None,
    pipeline_url: str | Keep | None,
    digest: str | Keep | None = KEEP,
) -> None:
    old, new = _plain(before), _plain(after)
    old_image, new_image = dict(old.pop("image", None) or {}), dict(new.pop("image", None) or {})
    expected = {**old_image, "tag": tag}
    if repository is not None:
        expected["repository"] = repository
    for key, value in (("pipelineUrl", pipeline_url), ("digest", digest)):
        if isinstance(value, str):
            expected[key] = value
        elif value is None:
            expected.pop(key, None)
    if old != new or new_image != expected:
        raise CiError("internal error: the values edit changed more than the owned keys")
