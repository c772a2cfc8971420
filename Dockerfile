# The service image. Dependencies go into a virtualenv in a builder stage; the runtime stage gets
# only that virtualenv and app/: no pip, setuptools, wheel, compilers or caches.
# Production builds use the official slim Python image; the tests pass a locally made Debian base
# (any Debian-like image with python3 and python3-venv works, hence `python3 -m venv`).
# Few instructions, and the code copy as early as it can be: with buildah on vfs storage every
# cached step costs a full copy of the root filesystem, and steps after a changed one are cheap.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
COPY requirements.txt /tmp/requirements.txt
# pip lives in its own venv and installs into /opt/venv (made without pip) through --python.
RUN python3 -m venv /opt/build-tools \
    && python3 -m venv --without-pip /opt/venv \
    && /opt/build-tools/bin/pip --python /opt/venv/bin/python install \
        --no-cache-dir --disable-pip-version-check --no-input -r /tmp/requirements.txt \
    && find /opt/venv -depth -type d \( -name tests -o -name test \) -path '*/site-packages/*' \
        -prune -exec rm -rf {} + \
    && rm -rf /root/.cache

FROM ${BASE_IMAGE}
# Dependencies before the code: a code-only change rebuilds from the app layer on.
COPY --from=builder /opt/venv /opt/venv
COPY app/ /srv/app/
# VERSION is the image tag (the short commit SHA): what /-/health reports as the running build.
ARG VERSION=dev REVISION="" SOURCE_URL="" CREATED=""
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/srv \
    APP_VERSION=${VERSION} \
    APP_REVISION=${REVISION}
LABEL org.opencontainers.image.title="python-microservice" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.created="${CREATED}"
WORKDIR /srv
EXPOSE 8080
# Numeric, so Kubernetes can check runAsNonRoot. It owns nothing: the root filesystem can be
# mounted read-only; the service writes (if ever) only under /tmp.
USER 10001:10001
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8080", "--loop", "uvloop", "--http", "httptools", "--proxy-headers", "--forwarded-allow-ips", "*", "--no-access-log", "--no-server-header", "--timeout-graceful-shutdown", "20"]
