#!/usr/bin/env bash
# Peak resident memory (VmHWM) of epoch serve for large values:
#   1. one 512 MiB SET, then two GETs of it;
#   2. 200 SETs of 1 MB, then one MGET of the 200 keys.
# Each case runs against a fresh server on a temporary directory, on
# 127.0.0.1 only. Usage: scripts/rss-large-values.sh [extra epoch serve flags]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-cli >/dev/null || scripts/deps.sh
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/epoch" ./cmd/epoch
port=$((20000 + RANDOM % 20000))

start() {
	"$tmp/epoch" serve --dir "$tmp/data-$1" --addr 127.0.0.1:$port --http-addr "" --log-level warn "${@:2}" &
	pid=$!
	for _ in $(seq 100); do redis-cli -p $port PING >/dev/null 2>&1 && return; sleep 0.1; done
	echo "epoch serve did not start" >&2; exit 1
}
mib() { awk -v k="$(grep "$1" /proc/$pid/status | awk '{print $2}')" 'BEGIN{printf "%.0f MiB", k/1024}'; }
stop() { kill $pid; wait $pid 2>/dev/null || true; }

start big "$@"
echo "idle:                        RSS $(mib VmRSS)"
head -c $((512 << 20)) /dev/zero | tr '\0' 'v' > "$tmp/value"
redis-cli -p $port -x SET big < "$tmp/value" >/dev/null
echo "after SET 512 MiB:           RSS $(mib VmRSS), peak $(mib VmHWM)"
redis-cli -p $port GET big | wc -c | awk '{printf "GET returned %d bytes\n", $1}'
redis-cli -p $port GET big >/dev/null
echo "after 2 x GET 512 MiB:       RSS $(mib VmRSS), peak $(mib VmHWM)"
stop
rm -f "$tmp/value"

start mget "$@"
head -c 1000000 /dev/zero | tr '\0' 'm' > "$tmp/mb"
for i in $(seq 200); do redis-cli -p $port -x SET "mb:$i" < "$tmp/mb" >/dev/null; done
echo "after 200 x SET 1 MB:        RSS $(mib VmRSS), peak $(mib VmHWM)"
redis-cli -p $port MGET $(seq -f 'mb:%g' 200) | wc -c | awk '{printf "MGET returned %d bytes\n", $1}'
echo "after MGET of 200 x 1 MB:    RSS $(mib VmRSS), peak $(mib VmHWM)"
stop
