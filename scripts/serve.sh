#!/usr/bin/env bash
# make serve: keep a server running on the demo data, and say which key to use.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/demo-data.sh
PORT="${PORT:-8000}"
echo "API key: $API_KEY"
echo "Try: curl -H \"Authorization: Bearer $API_KEY\" http://127.0.0.1:$PORT/public/v1/accounts/credits/"
exec "$CE" serve --port "$PORT"
