#!/usr/bin/env bash
# stampede's live generator against oha, on one zero-latency mock, in one sitting.
#
#   scripts/bench-vs-oha.sh [PAIRS] [CONNECTIONS] [SECONDS]     (defaults: 5 64 8)
#
# Needs a release build (cargo build --release) and oha (cargo install oha). Starts
# `stampede mock` with scenarios/profiles/zero-latency.toml on 127.0.0.1:8089, then:
#  1. PAIRS alternating closed-loop pairs (oha -c N, then stampede bench live --only closed with
#     N users; the order flips every pair so drift on the machine hits both alike);
#  2. CPU per request over the same number of requests: /usr/bin/time around oha -n R and around
#     `stampede run` of a closed-loop scenario with max_requests = R (R = 50,000 × SECONDS);
#  3. the open loop at 0.75 × oha's median closed-loop rate (stampede bench live --only open).
# The mock shares the machine's cores with the client, as it does for oha.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-5}
CONNECTIONS=${2:-64}
SECONDS_EACH=${3:-8}
PORT=8089
URL="http://127.0.0.1:$PORT"
STAMPEDE=target/release/stampede
BODY='{"contents":[{"role":"user","parts":[{"text":"hello there, how are you today"}]}],"generationConfig":{"maxOutputTokens":8}}'
PATH_="/v1beta/models/gemini-2.5-flash:generateContent"
WORK=$(mktemp -d)
"$STAMPEDE" mock --profile scenarios/profiles/zero-latency.toml --port "$PORT" > "$WORK/mock.log" 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 1

oha_rate() {
  oha -z "${SECONDS_EACH}s" -c "$CONNECTIONS" --no-tui -m POST -H 'x-goog-api-key: k' \
    -H 'content-type: application/json' -d "$BODY" "$URL$PATH_" | awk '/Requests\/sec/ {print $2}'
}
stampede_rate() {
  "$STAMPEDE" bench live --url "$URL" --only closed --connections "$CONNECTIONS" --duration "${SECONDS_EACH}s" \
    | awk '/^closed loop/ {print $5}'
}

echo "closed loop, $CONNECTIONS connections, ${SECONDS_EACH} s each: pairs in one sitting"
OHA_RATES=()
for i in $(seq 1 "$PAIRS"); do
  if (( i % 2 )); then o=$(oha_rate); s=$(stampede_rate); else s=$(stampede_rate); o=$(oha_rate); fi
  OHA_RATES+=("$o")
  awk -v i="$i" -v o="$o" -v s="$s" 'BEGIN {printf "pair %d: oha %8.0f req/s   stampede %8.0f req/s   ratio %.3f\n", i, o, s, s / o}'
done
MEDIAN=$(printf '%s\n' "${OHA_RATES[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')

REQUESTS=$((50000 * SECONDS_EACH))
cat > "$WORK/closed.toml" <<TOML
name = "bench-cpu"
seed = 1
duration = "10m"
[target]
kind = "gemini"
model = "gemini-2.5-flash"
base_url = "$URL"
max_requests = $REQUESTS
[traffic]
arrival = "closed"
users = $CONNECTIONS
think = { dist = "constant", value = "0s" }
input_tokens = 8
output_tokens = 8
[strategy]
workers = $CONNECTIONS
TOML
echo
echo "CPU over $REQUESTS requests each (/usr/bin/time: user + sys; stampede's includes writing its report)"
/usr/bin/time -f "oha       user %U s, sys %S s, max RSS %M KiB" oha -n "$REQUESTS" -c "$CONNECTIONS" --no-tui -m POST \
  -H 'x-goog-api-key: k' -H 'content-type: application/json' -d "$BODY" "$URL$PATH_" 2>&1 >/dev/null | tail -1
GEMINI_API_KEY=k /usr/bin/time -f "stampede  user %U s, sys %S s, max RSS %M KiB" \
  "$STAMPEDE" run "$WORK/closed.toml" --out "$WORK/out" 2>&1 >/dev/null | tail -1
jq -r '"stampede answered \(.requests.succeeded) of \(.requests.scheduled)"' "$WORK/out/summary.json" 2>/dev/null || true

RATE=$(awk -v m="$MEDIAN" 'BEGIN {printf "%.0f", 0.75 * m}')
echo
echo "open loop at 0.75 × oha's median closed-loop rate ($MEDIAN req/s): $RATE req/s"
"$STAMPEDE" bench live --url "$URL" --only open --rate "$RATE" --connections "$CONNECTIONS" --duration "${SECONDS_EACH}s"
