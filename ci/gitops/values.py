"""Round-trip edits of a pipeline-owned values file: text in, text out, nothing else touched.

The YAML parser (ruamel.yaml) locates the exact characters of the scalar we own; only those
characters are replaced, so comments, key order, quoting and spacing of everything else stay
byte for byte. When the key does not exist yet it is added through a ruamel round-trip dump.
The result is always parsed again and checked: only the owned key may have changed.
"""

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


@dataclass(frozen=True)
class Image:
    repository: str | None
    tag: str | None


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
    """The ``image.repository`` and ``image.tag`` of a values file (None when absent)."""
    image = _load(text, name).get("image") or {}
    repository, tag = image.get("repository"), image.get("tag")
    return Image(
        repository=None if repository is None else str(repository),
        tag=None if tag is None else str(tag),
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


def _scalar_span(text: str, key: str) -> tuple[int, int, str] | None:
    """Character span and quote style of ``image.<key>``'s plain one-line scalar, if it has one."""
    node = _yaml().compose(text)
    if not isinstance(node, MappingNode):
        return None
    for parent_key, parent_value in node.value:
        if parent_key.value != "image" or not isinstance(parent_value, MappingNode):
            continue
        for child_key, child_value in parent_value.value:
            if child_key.value != key:
                continue
            if (
                not isinstance(child_value, ScalarNode)
                or child_value.style not in (None, '"', "'")
                or getattr(child_value, "anchor", None)
                or child_value.start_mark.line != child_value.end_mark.line
            ):
                return None
            return child_value.start_mark.index, child_value.end_mark.index, child_value.style
    return None


def _set_key(text: str, key: str, value: str, name: str) -> str:
    data = _load(text, name)
    span = _scalar_span(text, key)
    if span is not None:
        start, end, style = span
        rendered = _render(value, style)
        return text[:start] + rendered + text[end:]
    # The key (or image itself) is missing, or written in a form we do not splice: round-trip.
    if data.get("image") is None:
        data["image"] = CommentedMap()
    data["image"][key] = DoubleQuotedScalarString(value)
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def set_image(text: str, tag: str, repository: str | None = None, name: str = "values.yaml") -> str:
    """Return ``text`` with ``image.tag`` (and ``image.repository`` if given) set; nothing else."""
    before = _load(text, name)
    result = _set_key(text, "tag", tag, name)
    if repository is not None:
        result = _set_key(result, "repository", repository, name)
    after = _load(result, name)
    _check_only_image_changed(before, after, tag, repository)
    return result


def _plain(data):
    """Plain Python data of a loaded document, for comparisons."""
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def _check_only_image_changed(before, after, tag: str, repository: str | None) -> None:
    old, new = _plain(before), _plain(after)
    old_image, new_image = dict(old.pop("image", None) or {}), dict(new.pop("image", None) or {})
    expected = {**old_image, "tag": tag}
    if repository is not None:
        expected["repository"] = repository
    if old != new or new_image != expected:
        raise CiError("internal error: the values edit changed more than the owned keys")
