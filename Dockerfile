# syntax=docker/dockerfile:1
# One image for every process of the Appointment Service:
#
#   docker run IMAGE                 the HTTP API (CMD "api", port 8000)
#   docker run IMAGE worker          the Temporal worker (metrics on 9464)
#   docker run IMAGE relay           the outbox relay (no port)
#   docker run IMAGE projector       the read-view projector (no port)
#
# Build:  docker build -t appointment-service:0.1.0 \
#           --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#
# Only the runtime dependencies of pyproject.toml are installed, from their lock
# (requirements/runtime.lock): the `local` extra (the servers of `make run`, SecantusDB
# among them, which is GPL) and the `dev` extra never enter the image.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
# Only for fetching the docs' browser assets from npm (never in the image).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- docs-assets: Swagger UI, ReDoc and GraphiQL from npm, checked against their lock --
# The versions of docs-assets/package.json, every file checked against its integrity
# hash in package-lock.json; no package's install scripts run. The builder copies the
# files the pages load (api/docs/assets.py) into the package.
FROM ${NODE_IMAGE} AS docs-assets
WORKDIR /assets
COPY docs-assets/package.json docs-assets/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund


# --- builder: resolves and installs the package into a self-contained venv -----------
FROM ${PYTHON_IMAGE} AS builder

# Every runtime dependency ships manylinux wheels for CPython 3.11 today; the compiler is
# here so that a dependency which falls back to an sdist still builds, in this stage only.
# Debian packages are not pinned to versions (DL3008): the mirror drops a version once a
# security update supersedes it, so a pin breaks the build; the base image's tag pins the
# Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# The venv lives at the same path in both stages, so its scripts' shebangs stay valid
# after the copy.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# The runtime lock first, in a layer of its own (rebuilt only when the lock changes):
# exactly the pinned releases, each file checked against its hash, so every build of a
# commit installs the same dependencies (`make lock` writes it from pyproject.toml).
COPY requirements/runtime.lock requirements/runtime.lock
RUN pip install --require-hashes -r requirements/runtime.lock
# .dockerignore admits only the package sources, pyproject.toml, README.md and the lock.
COPY . .
# The docs' browser assets into api/docs/static, package data of the install below.
COPY --from=docs-assets /assets/node_modules docs-assets/node_modules
RUN python -m api.docs.assets
# A regular (not editable) install: the code lands in site-packages, compiled to .pyc at
# install time, and /src is left behind with this stage. No dependencies (the lock has
# them all: pip check says so) and the locked setuptools as build backend, not the
# newest one an isolated build would fetch.
RUN pip install --no-deps --no-build-isolation . \
    && pip check


# --- runtime: slim Python, tini, the venv; no compiler, no pip cache, no sources -------
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="appointment-service" \
      org.opencontainers.image.description="Appointment Service of the smart-clinic platform: booking sagas on Temporal, state in MongoDB, events to Kafka. One image; the command picks the process: api (default), worker, relay, projector." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.vendor="smart-clinic" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# tini is PID 1: it forwards SIGTERM to appointment-service (whose processes stop
# gracefully on it) and reaps the zombies that exec probes leave behind. DL3008: see the
# builder stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

# A fixed, non-root uid/gid (Kubernetes' runAsUser and fsGroup name the same numbers).
# /var/lib/appointments is the data folder; a named volume mounted there inherits its
# owner, so the simulators' --state-dir is writable without running as root.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/appointments \
    && chown app:app /var/lib/appointments

COPY --from=builder /opt/venv /opt/venv

# Container defaults: listen on every interface (127.0.0.1 would be unreachable from
# outside the container), JSON logs, the data folder above. Compose and the ConfigMap set
# them again explicitly.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APPOINTMENTS_API_HOST=0.0.0.0 \
    APPOINTMENTS_WORKER_METRICS_HOST=0.0.0.0 \
    APPOINTMENTS_LOG_JSON=true \
    APPOINTMENTS_DATA_DIR=/var/lib/appointments

WORKDIR /var/lib/appointments
USER 10001:10001
EXPOSE 8000 9464

# For the api (the default command). The worker, relay and projector override it
# (docker-compose.yml does); Kubernetes ignores HEALTHCHECK and uses the Deployments'
# probes instead.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('APPOINTMENTS_API_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/health/live', timeout=3).status == 200 else 1)"]

ENTRYPOINT ["/usr/bin/tini", "--", "appointment-service"]
CMD ["api"]
