# The service image, in two stages. `build` installs requirements.lock (every package pinned with
# its hashes) into a virtualenv made without pip, with pip from a tools venv; strips the debug
# symbols off the compiled extensions and compiles the modules the server imports at start; the
# image takes only that /opt/venv: no pip, setuptools, wheel, binutils, compilers or caches.
# Production builds use the official slim Python image pinned by digest (`python scripts/lock.py
# base` refreshes the pin); the tests pass a locally made Debian base (any Debian bookworm image
# with python3 and python3-venv works, hence `python3 -m venv`).
# Reproducible: `python -m ci build` passes `--timestamp` (the commit time), which sets every
# file's mtime and the image's dates; the .pyc files are hash-based (unchecked: the image is
# immutable) and compiled with a fixed PYTHONHASHSEED, so two builds of a commit are bit-identical.
# X-Forwarded-For/-Proto are trusted only from FORWARDED_ALLOW_IPS (read by uvicorn's
# --proxy-headers): 127.0.0.1 here; the chart sets the load balancer's range. Never "*".
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# strip(1), pinned like the packages (apt checks it against the signed release); only in this stage.
ARG BINUTILS=binutils=2.40-2
# What the CMD imports at start (uvicorn with uvloop and httptools, the app's libraries, tracing):
# these get .pyc files; anything else (pydantic.v1, ...) is compiled in memory if ever imported.
ARG STARTUP_MODULES="uvicorn.main uvicorn.loops.uvloop uvicorn.protocols.http.httptools_impl \
uvicorn.protocols.websockets.auto uvicorn.lifespan.on uvicorn.middleware.proxy_headers \
fastapi fastapi_offline fastapi.staticfiles starlette.responses pydantic pydantic_settings orjson \
prometheus_client prometheus_client.exposition opentelemetry.sdk.trace \
opentelemetry.sdk.trace.export opentelemetry.sdk.resources \
opentelemetry.exporter.otlp.proto.http.trace_exporter"
COPY requirements.lock /tmp/requirements.lock
RUN apt-get update -qq \
    && apt-get install -qq -y --no-install-recommends "${BINUTILS}" >/dev/null \
    && python3 -m venv /tmp/build-tools \
    && python3 -m venv --without-pip /opt/venv \
    && /tmp/build-tools/bin/pip --python /opt/venv/bin/python install --require-hashes \
        --no-deps --only-binary=:all: --no-compile --no-cache-dir --disable-pip-version-check \
        --no-input -r /tmp/requirements.lock \
    && find /opt/venv -name '*.so' -exec strip --strip-unneeded {} + \
    && find /opt/venv \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.pyi' \
        -o -name '*.c' -o -name '*.h' \) -delete \
    && PYTHONHASHSEED=0 /opt/venv/bin/python -B -c "import importlib, sys; \
[importlib.import_module(name) for name in sys.argv[1:]]; \
files = {getattr(m, '__file__', None) or '' for m in list(sys.modules.values())}; \
print('\n'.join(sorted(f for f in files if f.startswith('/opt/venv/') and f.endswith('.py'))))" \
        ${STARTUP_MODULES} >/tmp/startup-modules \
    && PYTHONHASHSEED=0 /opt/venv/bin/python -m compileall -q \
        --invalidation-mode unchecked-hash -i /tmp/startup-modules

FROM ${BASE_IMAGE}
WORKDIR /srv
EXPOSE 8080
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8080", "--loop", "uvloop", "--http", "httptools", "--proxy-headers", "--no-access-log", "--no-server-header", "--timeout-graceful-shutdown", "20"]
# Dependencies before the code: a code-only change rebuilds from the app layer on, and the build
# stage runs again only when requirements.lock changes.
COPY --from=build /opt/venv /opt/venv
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
RUN /opt/venv/bin/python -B -c "import app.main"
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
