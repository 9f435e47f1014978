#!/usr/bin/env bash
# The scale-out stack on loopback: PostgreSQL and Redis (Debian packages), the API, and
# `creator-enrich worker` processes.
#   scripts/cluster.sh up [DIR]     start everything in the background, print URL and API key
#   scripts/cluster.sh down [DIR]   stop everything that `up` started
#   scripts/cluster.sh run [DIR]    up, then wait; Ctrl-C (or SIGTERM) brings it all down
# Settings: WORKERS (processes, default 2), THREADS (per process, default 4), PORT (default 8000),
# CREATORS (generated store size on first start, default 20000).
set -euo pipefail
cd "$(dirname "$0")/.."
ACTION="${1:?up|down|run}"
DIR="$(realpath -m "${2:-cluster-data}")"
CE="$PWD/.venv/bin/creator-enrich"

up() {
    if ! command -v redis-server >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
    fi
    mkdir -p "$DIR" && chmod 755 "$DIR"
    scripts/services.sh start "$DIR/services" > "$DIR/services.env"
    source "$DIR/services.env"
    export CREATOR_ENRICH_DATA_DIR="$DIR/data"
    export CREATOR_ENRICH_DATABASE_URL="$CREATOR_ENRICH_TEST_DATABASE_URL"
    export CREATOR_ENRICH_BROKER_URL="$CREATOR_ENRICH_TEST_BROKER_URL"
    "$CE" db upgrade
    if [ ! -f "$DIR/.generated" ]; then
        "$CE" data generate --creators "${CREATORS:-20000}" --seed 42
        "$CE" accounts create cluster --credits 100000
        touch "$DIR/.generated"
    fi
    API_KEY="$("$CE" keys create cluster --label "cluster $(date +%s)")"
    PORT="${PORT:-8000}"
    setsid "$CE" serve --port "$PORT" --log-level warning > "$DIR/api.log" 2>&1 &
    echo $! > "$DIR/api.pid"
    setsid "$CE" worker --processes "${WORKERS:-2}" --threads "${THREADS:-4}" > "$DIR/worker.log" 2>&1 &
    echo $! > "$DIR/worker.pid"
    for _ in $(seq 1 100); do
        .venv/bin/python -c "import httpx; httpx.get('http://127.0.0.1:$PORT/healthz').raise_for_status()" 2>/dev/null && break
        sleep 0.2
    done
    cat > "$DIR/cluster.env" <<ENV
export CREATOR_ENRICH_DATA_DIR=$CREATOR_ENRICH_DATA_DIR
export CREATOR_ENRICH_DATABASE_URL=$CREATOR_ENRICH_DATABASE_URL
export CREATOR_ENRICH_BROKER_URL=$CREATOR_ENRICH_BROKER_URL
export CREATOR_ENRICH_URL=http://127.0.0.1:$PORT
export CREATOR_ENRICH_API_KEY=$API_KEY
ENV
    echo "cluster up: API http://127.0.0.1:$PORT, ${WORKERS:-2} worker processes"
    echo "API key: $API_KEY   (settings for the CLI: source $DIR/cluster.env)"
}

down() {
    for name in worker api; do
        if [ -f "$DIR/$name.pid" ]; then
            kill -TERM -- "-$(cat "$DIR/$name.pid")" 2>/dev/null || true
            for _ in $(seq 1 100); do kill -0 "$(cat "$DIR/$name.pid")" 2>/dev/null || break; sleep 0.2; done
            rm -f "$DIR/$name.pid"
        fi
    done
    scripts/services.sh stop "$DIR/services"
    echo "cluster down"
}

case "$ACTION" in
up) up ;;
down) down ;;
run)
    up
    trap down EXIT
    trap 'exit 0' INT TERM
    echo "Ctrl-C stops the cluster."
    while true; do sleep 3600 & wait $!; done
    ;;
esac
