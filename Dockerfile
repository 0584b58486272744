# syntax=docker/dockerfile:1
# The ecoin image: one image, five entry points (`ecoin-entrypoint ROLE`, deploy/entrypoint.sh):
# the Dagster webserver, the Dagster daemon, the gRPC code server of the `ecoin` code location,
# the Panel dashboard and the API sandbox. The BentoML services ship as their own images
# (`ecoin serve build`, then `bentoml containerize`). deploy/README.md runs the whole stack.
#
#   docker build -t ecoin:latest .
#   docker run --rm -p 127.0.0.1:8701:8701 -p 127.0.0.1:8702:8702 ecoin:latest sandbox
#
# The Dagster roles need a PostgreSQL (DAGSTER_PG_*, deploy/dagster.yaml): deploy/compose.yaml
# runs the whole stack.
#
# Python 3.11, CPU-only torch, every package pinned by constraints.txt, no compiler anywhere
# (every dependency installs from a wheel), and a non-root user in the final stage.
# tests/e2e/test_deploy.py runs this file's build-stage steps in a fresh virtual environment.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the virtual environment, in two layers (dependencies, then ecoin itself)
FROM ${PYTHON_IMAGE} AS build
# torch comes from this index alone (PyPI's Linux wheel of torch pulls GBs of CUDA libraries)
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV VENV=/opt/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml constraints.txt ./
COPY deploy/install.sh deploy/install.sh
RUN --mount=type=cache,target=/root/.cache/pip sh deploy/install.sh deps
COPY README.md ./
COPY ecoin_assets/ ecoin_assets/
COPY bentos/ bentos/
RUN sh deploy/install.sh app

# ---- runtime: the venv and the source tree it points to, run as `ecoin`
FROM ${PYTHON_IMAGE} AS runtime
# The same uid/gid as the user of the images `bentoml containerize` builds (BentoML's 1034), so
# that the pipeline and the forecast service can share the ECOIN_HOME volume.
ARG ECOIN_UID=1034
RUN groupadd --system --gid "${ECOIN_UID}" ecoin \
    && useradd --system --uid "${ECOIN_UID}" --gid ecoin --create-home --home-dir /home/ecoin \
        --shell /usr/sbin/nologin ecoin \
    && mkdir -p /data /opt/dagster/home \
    && chown ecoin:ecoin /data /opt/dagster/home
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    ECOIN_APP_DIR=/app \
    ECOIN_HOME=/data \
    DAGSTER_HOME=/opt/dagster/home \
    DAGSTER_STORAGE_DIR=/data/dagster/storage \
    BENTOML_DO_NOT_TRACK=True
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# ecoin is installed in editable mode: the venv imports it from here, where the dashboard,
# the report notebooks and the workspace files sit beside it as in the repository
COPY pyproject.toml constraints.txt README.md workspace.yaml ./
COPY ecoin_assets/ ecoin_assets/
COPY bentos/ bentos/
COPY panel_app/ panel_app/
COPY notebooks/ notebooks/
COPY deploy/dagster.yaml deploy/workspace.yaml deploy/
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/entrypoint.sh /usr/local/bin/ecoin-entrypoint
RUN python -m compileall -q ecoin_assets bentos panel_app
# numeric, so that Kubernetes can check runAsNonRoot
USER ${ECOIN_UID}:${ECOIN_UID}
VOLUME ["/data"]
# Dagster UI, code server (gRPC), dashboard, CoinGecko sandbox, X sandbox
EXPOSE 3000 4000 5006 8701 8702
HEALTHCHECK --interval=30s --timeout=15s --start-period=120s --retries=3 \
    CMD ["ecoin-entrypoint", "health"]
ENTRYPOINT ["ecoin-entrypoint"]
CMD ["webserver"]
