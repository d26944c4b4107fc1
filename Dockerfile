# OrbitFlow's production image. Stage 1 builds the virtualenv from requirements.lock
# (hashes checked; the mariadb driver compiled against libmariadb-dev); stage 2 is the
# runtime: Python, MariaDB Connector/C (libmariadb3) and that virtualenv, run as a
# non-root user. Build: docker build -t orbitflow .   (or: make image)
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-dev gcc libc6-dev libmariadb-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/orbitflow
WORKDIR /src
# The dependencies first, so that a change of the code reuses this layer.
COPY requirements.lock requirements-build.lock ./
RUN /opt/orbitflow/bin/pip install --require-hashes --no-deps -r requirements-build.lock \
 && /opt/orbitflow/bin/pip install --require-hashes --no-build-isolation -r requirements.lock
COPY pyproject.toml setup.cfg README.md ./
COPY alembic ./alembic
COPY src ./src
RUN /opt/orbitflow/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/orbitflow/bin/pip install --no-deps --no-index /wheels/orbitflow-*.whl

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# tini forwards SIGTERM to the server, which then stops at once rather than after the
# runtime's grace period (a process with PID 1 ignores signals it has no handler for).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 libmariadb3 tini tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin orbitflow
COPY --from=build /opt/orbitflow /opt/orbitflow
ENV PATH=/opt/orbitflow/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PORT=3000
# Every installed package's requirements are met here too (a requirement of setup.cfg
# missing from requirements.lock fails the build, not the first request).
RUN pip check
WORKDIR /app
COPY production.ini deploy/docker-entrypoint.sh ./
# Where `orbitflow backup` writes in the container: a volume in docker-compose.yml, owned by
# the app user so that the volume created from it is writable.
RUN mkdir /app/backups && chown orbitflow:orbitflow /app/backups
USER orbitflow
EXPOSE 3000
# No curl in the image: the standard library asks /api/health (200 when the database is
# reachable and migrated).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('PORT', '3000'), timeout=4)"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/docker-entrypoint.sh"]
CMD ["pserve", "production.ini"]
