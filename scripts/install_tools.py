"""Install the system tools that the integration tests drive, where this machine allows it.

As root with apt (CI, a fresh Debian box) the missing Debian packages are installed; the npm tools
go into ./node_modules from package.json; the Go-built tools (cosign, syft) into ./.tools/bin, built
from their modules at pinned versions. Elsewhere it says what is missing and the tests that need it
skip (or fail, under CI=true).
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
    # A real browser for /docs and /redoc (headless), promtool for the chart's alert rules, and
    # the Prometheus server that `ci verify`'s tests query (run by hand: no systemd here).
    "chromium": "chromium",
    "promtool": "prometheus",
    "prometheus": "prometheus",
    # Node for the npm tools (gitlab-ci-local, the Argo CD schemas), where the image lacks it.
    "node": "nodejs",
    "npm": "npm",
}
ROOT = Path(__file__).resolve().parent.parent

# Command -> (Go package of its main, pinned version), built with `go install` (the installation
# method both projects document; no release binary can be downloaded here). cosign v3: its
# key-based flow runs offline with `--tlog-upload=false` and `--insecure-ignore-tlog`.
GO_TOOLS = {
    "cosign": ("github.com/sigstore/cosign/v3/cmd/cosign", "v3.1.3"),
    "syft": ("github.com/anchore/syft/cmd/syft", "v1.57.1"),
}
# The binaries (`$TOOLS_DIR/bin`): a run that finds them at their pinned versions builds nothing.
TOOLS_DIR = Path(os.environ.get("TOOLS_DIR") or ROOT / ".tools")
GO_BIN_DIR = TOOLS_DIR / "bin"


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


def go_command() -> str | None:
    """Go on PATH, else where its official archive puts it."""
    return shutil.which(
        "go", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/go/bin"])
    )


def go_module_version(binary: Path, go: str) -> str | None:
    """The version of the main module a Go binary was built from (`go version -m`), or None."""
    result = subprocess.run([go, "version", "-m", str(binary)], capture_output=True, text=True)
    for line in result.stdout.splitlines():
        fields = line.split()
        if fields[:1] == ["mod"] and len(fields) >= 3:
            return fields[2]
    return None


def stale_go_tools(wanted: list[str], bin_dir: Path, go: str) -> list[str]:
    """The Go tools (of those wanted) not in bin_dir at their pinned version."""
    return [
        name
        for name in wanted
        if not (bin_dir / name).is_file()
        or go_module_version(bin_dir / name, go) != GO_TOOLS[name][1]
    ]


def install_go(commands: list[str]) -> None:
    wanted = [name for name in (commands or GO_TOOLS) if name in GO_TOOLS]
    go = go_command()
    if not wanted:
        return
    if go is None:  # a cached tools folder still serves (its cache key is this file)
        missing = [name for name in wanted if not (GO_BIN_DIR / name).is_file()]
        if missing:
            print(f"install_tools: go not found; not built: {' '.join(missing)}", file=sys.stderr)
        return
    # Go's own module and build caches (per user, ~/go/pkg/mod and ~/.cache/go-build) stay
    # where they are: a fresh clone on the same machine (CI's) links from them in seconds.
    env = {**os.environ, "GOBIN": str(GO_BIN_DIR)}
    for name in stale_go_tools(wanted, GO_BIN_DIR, go):
        package, version = GO_TOOLS[name]
        print(f"install_tools: building {name} {version} (go install)", file=sys.stderr)
        subprocess.run([go, "install", f"{package}@{version}"], check=True, env=env)


def main(commands: list[str]) -> int:
    """Install everything, or only the named commands (the pipeline's build job: ``buildah``)."""
    debian = [cmd for cmd in commands if cmd not in GO_TOOLS]
    if debian or not commands:
        install_debian(missing_packages(debian))
    install_go(commands)
    if not commands:
        install_npm()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
