"""Install the system tools that the integration tests drive, where this machine allows it.

As root with apt (CI, a fresh Debian box) the missing Debian packages are installed; the npm tools
go into ./node_modules from package.json. Elsewhere it says what is missing and the tests that
need it skip (or fail, under CI=true).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# Command on PATH -> the Debian package that provides it.
DEBIAN_COMMANDS = {
    "buildah": "buildah",
    "skopeo": "skopeo",
    "docker-registry": "docker-registry",
    "debootstrap": "debootstrap",
    "rsync": "rsync",
    "wrk": "wrk",
    "htpasswd": "apache2-utils",
    "ab": "apache2-utils",
    # Instructions per request, counted (make bench-instructions).
    "valgrind": "valgrind",
    "callgrind_control": "valgrind",
    "nginx": "nginx-light",
    "fcgiwrap": "fcgiwrap",
    # A private CA and server certificate for `ci wait`'s ARGOCD_CA_FILE tests.
    "openssl": "openssl",
    # buildah's overlay storage without kernel overlay mounts (make bench-image).
    "fuse-overlayfs": "fuse-overlayfs",
    # A real browser for /docs and /redoc (headless), and promtool for the chart's alert rules.
    "chromium": "chromium",
    "promtool": "prometheus",
    # Node for the npm tools (gitlab-ci-local, the Argo CD schemas), where the image lacks it.
    "node": "nodejs",
    "npm": "npm",
}
ROOT = Path(__file__).resolve().parent.parent


def missing_packages(commands: list[str] | None = None) -> list[str]:
    """The Debian packages whose command (default: all of them) is not on PATH (sbin included)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    wanted = commands or list(DEBIAN_COMMANDS)
    return sorted({DEBIAN_COMMANDS[cmd] for cmd in wanted if not shutil.which(cmd, path=path)})


def install_debian(packages: list[str]) -> None:
    if not packages:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"install_tools: not root with apt; missing: {' '.join(packages)}", file=sys.stderr)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env=env,
    )


def missing_npm_packages(root: Path = ROOT) -> list[str]:
    """package.json's devDependencies not installed in root/node_modules."""
    wanted = json.loads((root / "package.json").read_text()).get("devDependencies", {})
    return sorted(
        name for name in wanted if not (root / "node_modules" / name / "package.json").is_file()
    )


def install_npm() -> None:
    if not missing_npm_packages():
        return
    if not shutil.which("npm"):
        print("install_tools: npm not found; gitlab-ci-local not installed", file=sys.stderr)
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], check=True, cwd=ROOT)


def main(commands: list[str]) -> int:
    """Install everything, or only the named commands (the pipeline's build job: ``buildah``)."""
    install_debian(missing_packages(commands))
    if not commands:
        install_npm()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
