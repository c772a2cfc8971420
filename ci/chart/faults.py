"""Which value file sets the key a render error is about: ``FILE: KEY`` for the person to fix.

Helm's schema errors name a JSON pointer (``at '/replicaCount'``); the file to fix is the last
of the Application's value files that sets that key (later files win, as in Helm).
"""

import re
from pathlib import Path
from typing import Any

import helm_python

from ci.chart.argocd import ArgoApp

POINTER = re.compile(r"at '(/[^']*)'")
ADDITIONAL = re.compile(r"additional propert(?:y|ies) ((?:'[^']*'(?:, )?)+)")


def files_at_fault(app: ArgoApp, root: Path, message: str) -> list[str]:
    """``FILE: KEY`` for each schema error: the last value file setting that key (or its parent)."""
    chart_dir = root / app.chart_path
    layers: list[tuple[str, Any]] = []
    for value_file in app.value_files:
        path = (chart_dir / value_file).resolve()
        if path.is_file() and path.is_relative_to(root.resolve()):
            try:
                values = helm_python.values_from_yaml(path.read_text())
            except (helm_python.HelmError, UnicodeDecodeError):  # the render error says why
                continue
            layers.append((path.relative_to(root.resolve()).as_posix(), values))
    found = []
    for part in re.split(r"(?= - at ')", message):
        pointer = POINTER.search(part)
        if not pointer:
            continue
        keys = [key for key in pointer.group(1).split("/") if key]
        extra = ADDITIONAL.search(part)
        candidates = (
            [[*keys, name.strip("'")] for name in re.findall(r"'[^']*'", extra.group(1))]
            if extra
            else [keys]
        )
        for key_path in candidates:
            owner = next(
                (name for name, values in reversed(layers) if _has(values, key_path)), None
            )
            if owner is None:
                owner = next(
                    (name for name, values in reversed(layers) if _has(values, key_path[:-1])),
                    None,
                )
            label = ".".join(key_path) or "(top level)"
            found.append(f"{owner}: {label}" if owner else f"{label}")
    return list(dict.fromkeys(found))


def _has(values: Any, keys: list[str]) -> bool:
    node = values
    for key in keys:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return False
    return bool(keys)
