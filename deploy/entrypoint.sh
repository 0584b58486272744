#!/bin/sh
# Entry point of the ecoin image: `ecoin-entrypoint ROLE [EXTRA ARGS...]` runs one part of the
# system in the foreground (exec, so it gets the container's signals); `ecoin-entrypoint health
# [ROLE]` is the image's HEALTHCHECK, which probes the role this container was started with.
#
#   webserver    Dagster UI and GraphQL API on $DAGSTER_WEBSERVER_PORT (3000)
#   daemon       Dagster daemon: run queue, schedules, sensors (x_posts_sensor)
#   code-server  gRPC server of the `ecoin` code location on $DAGSTER_CODE_SERVER_PORT (4000);
#                the DefaultRunLauncher starts every run as a child process of this server
#   dashboard    Panel dashboard on $ECOIN_DASHBOARD_PORT (5006), page /app
#   sandbox      CoinGecko and X API sandboxes on $SANDBOX_COINGECKO_PORT (8701) and
#                $SANDBOX_X_PORT (8702)
#   stream       the real-time ingestion service (`ecoin tweets stream`), reporting x_posts
#                to the Dagster instance
#   api          the data API (`ecoin serve api`) on $ECOIN_API_PORT (3003)
#   alerts       the alert watcher (`ecoin alerts watch`); run one
#   ROLE... any other command is run as given (e.g. `ecoin status`, `bash`)
#
# Paths and ports come from the environment (defaults: the image's layout, /app mirrors the
# repository); deploy/README.md lists every variable.
set -eu

ECOIN_APP_DIR=${ECOIN_APP_DIR:-/app}
DAGSTER_WORKSPACE=${DAGSTER_WORKSPACE:-$ECOIN_APP_DIR/workspace.yaml}
DAGSTER_WEBSERVER_PORT=${DAGSTER_WEBSERVER_PORT:-3000}
DAGSTER_CODE_SERVER_PORT=${DAGSTER_CODE_SERVER_PORT:-4000}
ECOIN_DASHBOARD_PORT=${ECOIN_DASHBOARD_PORT:-5006}
# host[:port] values the browser uses to reach the dashboard, comma-separated
ECOIN_DASHBOARD_ORIGINS=${ECOIN_DASHBOARD_ORIGINS:-localhost:$ECOIN_DASHBOARD_PORT,127.0.0.1:$ECOIN_DASHBOARD_PORT}
SANDBOX_COINGECKO_PORT=${SANDBOX_COINGECKO_PORT:-8701}
SANDBOX_X_PORT=${SANDBOX_X_PORT:-8702}
ECOIN_API_PORT=${ECOIN_API_PORT:-3003}
ECOIN_BIND=${ECOIN_BIND:-0.0.0.0}
ROLE_FILE=${TMPDIR:-/tmp}/ecoin-entrypoint.role

probe() {  # probe URL: exit 0 if it answers 2xx within 10 s
    python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' "$1"
}

role=${1:-webserver}
if [ "$#" -gt 0 ]; then shift; fi

case "$role" in
webserver | daemon | code-server | dashboard | sandbox | api)
    echo "$role" >"$ROLE_FILE" 2>/dev/null || true
    ;;
stream | alerts)  # no port to probe: health checks that this process (exec keeps $$) lives
    echo "$role $$" >"$ROLE_FILE" 2>/dev/null || true
    ;;
esac

case "$role" in
webserver)
    exec dagster-webserver --host "$ECOIN_BIND" --port "$DAGSTER_WEBSERVER_PORT" \
        --workspace "$DAGSTER_WORKSPACE" "$@"
    ;;
daemon)
    exec dagster-daemon run --workspace "$DAGSTER_WORKSPACE" "$@"
    ;;
code-server)
    exec dagster code-server start --host "$ECOIN_BIND" --port "$DAGSTER_CODE_SERVER_PORT" \
        --module-name ecoin_assets.definitions --location-name ecoin "$@"
    ;;
dashboard)
    set -- --address "$ECOIN_BIND" --port "$ECOIN_DASHBOARD_PORT" --num-procs 1 --liveness "$@"
    old_ifs=$IFS
    IFS=,
    for origin in $ECOIN_DASHBOARD_ORIGINS; do
        set -- "$@" --allow-websocket-origin "$origin"
    done
    IFS=$old_ifs
    exec panel serve "$ECOIN_APP_DIR/panel_app/app.py" "$@"
    ;;
sandbox)
    exec ecoin sandbox serve --host "$ECOIN_BIND" --coingecko-port "$SANDBOX_COINGECKO_PORT" \
        --x-port "$SANDBOX_X_PORT" "$@"
    ;;
stream)
    exec ecoin tweets stream "$@"
    ;;
api)
    exec ecoin serve api --host "$ECOIN_BIND" --port "$ECOIN_API_PORT" "$@"
    ;;
alerts)
    exec ecoin alerts watch "$@"
    ;;
health)
    recorded=$(cat "$ROLE_FILE" 2>/dev/null || echo unknown)
    what=${1:-${recorded%% *}}
    case "$what" in
    webserver) probe "http://127.0.0.1:$DAGSTER_WEBSERVER_PORT/server_info" ;;
    daemon) exec dagster-daemon liveness-check ;;
    code-server) exec dagster api grpc-health-check --host 127.0.0.1 --port "$DAGSTER_CODE_SERVER_PORT" ;;
    dashboard) probe "http://127.0.0.1:$ECOIN_DASHBOARD_PORT/liveness" ;;
    api) probe "http://127.0.0.1:$ECOIN_API_PORT/openapi.json" ;;
    stream | alerts)
        pid=${recorded#* }
        if [ "${recorded%% *}" != "$what" ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "ecoin-entrypoint health: the $what process is not running" >&2
            exit 1
        fi
        ;;
    sandbox)
        probe "http://127.0.0.1:$SANDBOX_COINGECKO_PORT/_sandbox/stats"
        probe "http://127.0.0.1:$SANDBOX_X_PORT/_sandbox/stats"
        ;;
    *)
        echo "ecoin-entrypoint health: no role to probe ($what); pass one" >&2
        exit 1
        ;;
    esac
    ;;
*)
    exec "$role" "$@"
    ;;
esac
