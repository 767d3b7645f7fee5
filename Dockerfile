# syntax=docker/dockerfile:1
# One image for every service; docker-compose.yml and deploy/k8s choose the command
# (`python -m bootstrap.serve registry|enrolment|notifier run|gateway`: each through the
# composition root, `bootstrap.parts`).
# Configuration by environment variables only (GT_*); no secret is baked into the image.

ARG PYTHON_VERSION=3.11

# ---- build: resolve the locked dependencies into a virtual environment ----
FROM python:${PYTHON_VERSION}-slim AS build
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
# The whole workspace (every member under services/ included, whatever is added later).
COPY pyproject.toml uv.lock ./
COPY contracts-schema contracts-schema
COPY eventstore eventstore
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-editable

# ---- runtime: the environment and nothing else, as an unprivileged user ----
FROM python:${PYTHON_VERSION}-slim AS runtime
RUN groupadd --system --gid 10001 gt \
 && useradd --system --uid 10001 --gid gt --home-dir /var/lib/gt --create-home gt
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GT_METRICS_HOST=0.0.0.0 \
    GT_METRICS_PORT=9100 \
    GT_LOG_FORMAT=json \
    GT_DATA_DIR=/var/lib/gt
WORKDIR /var/lib/gt
USER gt:gt
EXPOSE 8000 9100
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=6 \
  CMD ["python", "-m", "eventstore.health", "probe", "http://127.0.0.1:9100/healthz"]
CMD ["python", "-m", "bootstrap.serve", "registry"]
