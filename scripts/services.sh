#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL and Redis on loopback for tests and benchmarks.
#   scripts/services.sh start DIR   -> prints the export lines for the test settings
#   scripts/services.sh stop DIR
#   scripts/services.sh stop-pg|start-pg|stop-redis|start-redis DIR   (fault tests)
# PostgreSQL refuses to run as root, so its files belong to the `postgres` user.
set -euo pipefail
ACTION="${1:?start|stop}"
DIR="$(realpath -m "${2:?directory}")"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Ports are remembered in DIR, so that `stop` finds what `start` started (and nothing else).
if [ -f "$DIR/ports" ]; then source "$DIR/ports"; fi
PG_PORT="${PG_PORT:-$(free_port)}"
REDIS_PORT="${REDIS_PORT:-$(free_port)}"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_pg() {
    [ "$(id -u)" = 0 ] && touch "$DIR/pg.log" && chown postgres "$DIR/pg.log"
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg.log" -w \
        -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" \
        start >/dev/null
}

start_redis() {
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
        --dir "$DIR" --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
        --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --save ""
    for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$REDIS_PORT" ping >/dev/null
}

case "$ACTION" in
stop-pg) as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -m fast stop >/dev/null ;;
start-pg) start_pg ;;
stop-redis) redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true ;;  # saves the AOF
start-redis) start_redis ;;
start)
    mkdir -p "$DIR"
    printf 'PG_PORT=%s\nREDIS_PORT=%s\n' "$PG_PORT" "$REDIS_PORT" > "$DIR/ports"
    if [ ! -d "$DIR/pg" ]; then
        mkdir -p "$DIR/pg"
        [ "$(id -u)" = 0 ] && chown postgres "$DIR/pg"
        as_pg "$PG_BIN/initdb" -D "$DIR/pg" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    start_pg
    start_redis
    echo "export CREATOR_ENRICH_TEST_SERVICES_DIR=$DIR"
    echo "export CREATOR_ENRICH_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
    echo "export CREATOR_ENRICH_TEST_BROKER_URL=redis://127.0.0.1:$REDIS_PORT/0"
    ;;
stop)
    [ -f "$DIR/ports" ] || exit 0
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    [ -d "$DIR/pg" ] && as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -m fast stop >/dev/null 2>&1 || true
    ;;
esac
