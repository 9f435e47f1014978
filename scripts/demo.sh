#!/usr/bin/env bash
# make demo: build a demo store, start the server, submit CSVs through the real HTTP API,
# save the results and print a summary, then stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/demo-data.sh

OUT="$PWD/demo-out"
rm -rf "$OUT" && mkdir -p "$OUT"
PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"

# A handle file as users really send them: known creators, profile URLs, @handles, duplicates,
# handles nobody has, and a few that cannot be handles at all.
{
    echo "handle"
    "$CE" data sample --platform instagram --count 400
    "$CE" data sample --platform instagram --count 5 | sed 's#^#https://www.instagram.com/#; s#$#/#'
    "$CE" data sample --platform instagram --count 5 | sed 's#^#@#'
    "$CE" data sample --platform instagram --count 20
    for i in $(seq 1 40); do echo "no_such_creator_$i"; done
    printf '%s\n' "has space" "bad!chars" "https://www.tiktok.com/@wrong_platform"
} > "$OUT/handles.csv"
{
    echo "email"
    "$CE" data sample --emails --count 150
    for i in $(seq 1 20); do echo "nobody$i@example.org"; done
    printf '%s\n' "not-an-email" "two@@signs.com"
} > "$OUT/emails.csv"

"$CE" serve --port "$PORT" --log-level warning > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if .venv/bin/python -c "import httpx,sys; httpx.get('$URL/healthz').raise_for_status()" 2>/dev/null; then break; fi
    sleep 0.2
done

echo "== raw enrichment of Instagram handles"
"$CE" batch submit "$OUT/handles.csv" --mode raw --platform instagram --wait --out "$OUT" \
    --url "$URL" --api-key "$API_KEY" --metadata '{"campaign": "demo"}'
echo
echo "== full enrichment (audience data and lookalikes) of 40 of the same handles"
{ echo "handle"; "$CE" data sample --platform instagram --count 40; } > "$OUT/handles-full.csv"
"$CE" batch submit "$OUT/handles-full.csv" --mode full --platform instagram --wait --out "$OUT" \
    --url "$URL" --api-key "$API_KEY"
echo
echo "== basic enrichment of emails"
"$CE" batch submit "$OUT/emails.csv" --mode basic --wait --out "$OUT" --url "$URL" --api-key "$API_KEY"
echo
echo "== advanced enrichment (every platform) of 30 emails"
{ echo "email"; "$CE" data sample --emails --count 30; } > "$OUT/emails-advanced.csv"
"$CE" batch submit "$OUT/emails-advanced.csv" --mode advanced --wait --out "$OUT" --url "$URL" \
    --api-key "$API_KEY"
echo
echo "Results are in $OUT. Server log: $OUT/server.log"
