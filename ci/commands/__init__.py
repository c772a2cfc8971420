"""The commands of ``python -m ci``, one module each, registered in this order (``--help``'s).

Each module defines ``register(subparsers)``: it adds its one command and sets ``run`` (parsed
arguments -> exit code). What several commands share: ``flags`` (the gitops target, dry run,
merge request, --wait) and ``write_back`` (running a write-back request).
"""

NAMES = (
    "build",
    "sign",
    "chart_lint",
    "render",
    "deploy",
    "promote",
    "rollback",
    "hold",
    "unhold",
    "reject",
    "unreject",
    "status",
    "check",
    "wait_changed",
    "verify_deploy",
    "wait",
    "verify",
)
