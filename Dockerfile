# syntax=docker/dockerfile:1
# The image every ztix service runs (web, worker, the migration job). Two stages: the first
# installs exactly what uv.lock pins into /opt/ztix with uv from PyPI; the second copies that
# environment onto a slim Python and runs as an unprivileged user.
FROM python:3.11-slim-bookworm AS build
RUN pip install --no-cache-dir "uv>=0.5"
WORKDIR /src
ENV UV_PROJECT_ENVIRONMENT=/opt/ztix UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
COPY pyproject.toml uv.lock ./
COPY packages ./packages
# the workspace names the test-only example plugin as a path source; uv reads its metadata
COPY tests/plugin_dist ./tests/plugin_dist
RUN uv sync --locked --no-default-groups --all-packages --no-editable

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /var/lib/ztix --create-home ztix
COPY --from=build /opt/ztix /opt/ztix
ENV PATH=/opt/ztix/bin:$PATH ZTIX_DATA_DIR=/var/lib/ztix PYTHONUNBUFFERED=1
USER ztix
WORKDIR /var/lib/ztix
EXPOSE 8080
ENTRYPOINT ["ztix"]
CMD ["--help"]
