# The service image, one stage. Dependencies go into a virtualenv made without pip, installed by
# pip from a tools venv that the same step deletes: the layer, and so the image, has no pip,
# setuptools, wheel, compilers or caches.
# Production builds use the official slim Python image; the tests pass a locally made Debian base
# (any Debian-like image with python3 and python3-venv works, hence `python3 -m venv`).
# Few instructions, static ones first and the per-build ones last: every step costs buildah a
# layer (on vfs storage, a copy of the whole root filesystem).
# X-Forwarded-For/-Proto are trusted only from FORWARDED_ALLOW_IPS (read by uvicorn's
# --proxy-headers): 127.0.0.1 here; the chart sets the load balancer's range. Never "*".
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
WORKDIR /srv
EXPOSE 8080
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8080", "--loop", "uvloop", "--http", "httptools", "--proxy-headers", "--no-access-log", "--no-server-header", "--timeout-graceful-shutdown", "20"]
# Dependencies before the code: a code-only change rebuilds from the app layer on. The list is
# copied (not bind-mounted) so that a changed requirements.txt misses buildah's cache; the tools
# venv is deleted in the step rather than put on a RUN --mount=type=tmpfs, whose clean-up in
# buildah 1.28 (chroot isolation) empties the step's root filesystem.
COPY requirements.txt /opt/venv/requirements.txt
RUN python3 -m venv /tmp/build-tools \
    && python3 -m venv --without-pip /opt/venv \
    && /tmp/build-tools/bin/pip --python /opt/venv/bin/python install \
        --no-cache-dir --disable-pip-version-check --no-input -r /opt/venv/requirements.txt \
    && rm -rf /tmp/build-tools
# Numeric, so Kubernetes can check runAsNonRoot. It owns nothing: the root filesystem can be
# mounted read-only; the service writes (if ever) only under /tmp.
USER 10001:10001
COPY app/ /srv/app/
# Per-build metadata last. VERSION is the image tag (the short commit SHA): what /-/health
# reports as the running build.
ARG VERSION=dev
ARG REVISION=""
ARG SOURCE_URL=""
ARG CREATED=""
# Smoke test: the app imports with only the runtime venv. It is also what makes a new VERSION
# rebuild the ENV and LABEL below: buildah (1.28) keys a cached ENV/LABEL step on its text, not on
# the build-arg values, but a RUN step's key includes them.
RUN /opt/venv/bin/python -c "import app.main"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/srv \
    FORWARDED_ALLOW_IPS=127.0.0.1 \
    APP_VERSION=${VERSION} \
    APP_REVISION=${REVISION}
LABEL org.opencontainers.image.title="python-microservice" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.created="${CREATED}"
