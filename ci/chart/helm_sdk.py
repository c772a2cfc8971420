"""helm-python-sdk's private render call (the one private API of it used here), in one place.

`Chart.render()` does not pass Helm's `kube_version` / `api_versions` options (what Argo CD sets
from the destination cluster for `.Capabilities`); the library's native `helm_render` call takes
them. That call and `Chart._raw()` are not documented, so the installed helm-python-sdk must be a
version this was tested with: any other is refused with a one-line error before they are touched.
"""

import functools
import json
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import helm_python

from ci.errors import CiError

DISTRIBUTION = "helm-python-sdk"
# Bump after tests/chart (render, capabilities, schemas) pass on the new one.
TESTED_VERSIONS = ("0.2.2",)


def check_version(installed: str | None = None) -> None:
    """Raise CiError unless helm-python-sdk (or `installed`) is a tested version."""
    installed = installed or metadata.version(DISTRIBUTION)
    if installed not in TESTED_VERSIONS:
        raise CiError(
            f"{DISTRIBUTION} {installed} is untested with ci/chart/helm_sdk.py (tested: "
            f"{', '.join(TESTED_VERSIONS)}); pin a tested version or retest and update it"
        )


@functools.cache
def _checked() -> None:
    check_version()


def render(
    chart: helm_python.Chart, values: Mapping[str, Any], options: Mapping[str, Any]
) -> dict[str, str]:
    """Template path -> rendered text, with all of Helm's render options (raises HelmError)."""
    _checked()
    from helm_python import _native

    rendered = _native.call_string(
        "helm_render", chart._raw(), json.dumps(dict(values)), json.dumps(dict(options))
    )
    manifests: dict[str, str] = json.loads(rendered)
    return manifests
