# Sourced by demo.sh and serve.sh: a demo SQLite store, an account with credits, and a key.
set -euo pipefail
export CREATOR_ENRICH_DATA_DIR="${CREATOR_ENRICH_DATA_DIR:-$PWD/demo-data}"
CE="$PWD/.venv/bin/creator-enrich"
DEMO_CREATORS="${DEMO_CREATORS:-20000}"

if [ ! -f "$CREATOR_ENRICH_DATA_DIR/.generated" ]; then
    rm -rf "$CREATOR_ENRICH_DATA_DIR"
    mkdir -p "$CREATOR_ENRICH_DATA_DIR"
    "$CE" db upgrade
    "$CE" data generate --creators "$DEMO_CREATORS" --seed 42
    "$CE" accounts create demo --credits 1000
    touch "$CREATOR_ENRICH_DATA_DIR/.generated"
fi
API_KEY="$("$CE" keys create demo --label "demo $(date +%s)")"
export API_KEY
