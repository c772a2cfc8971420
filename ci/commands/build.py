"""``python -m ci build``: build the image with buildah and push it to ECR, once per tag
(``ci.build``: the plan, the build and the push)."""

from ci import build


def register(subparsers) -> None:
    build.register(subparsers)
