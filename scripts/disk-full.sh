#!/usr/bin/env bash
# What `epoch serve` does when its disk fills up, as an operator would try
# it: the data directory on a small tmpfs (SIZE, default 64m), a client that
# writes 1 KB values one by one with redis-cli and records every SET the
# server acknowledged, until writes fail. Then it checks, and prints:
#   - the first error reply a write got, and that reads still work;
#   - /healthz and INFO persistence while the disk is full;
#   - how long SIGTERM takes;
#   - whether a restart on the still-full disk starts;
#   - after the tmpfs is grown (space freed), a restart, and whether every
#     acknowledged SET is there.
# With INPLACE=1 it frees the space while the server runs instead, and
# prints how long the server takes to accept writes again by itself and
# whether every acknowledged SET is there, without a restart.
#
# Needs root (mount) and redis-tools. Usage: scripts/disk-full.sh
#        FSYNC=everysec SIZE=32m scripts/disk-full.sh
#        KILL=9 FSYNC=everysec scripts/disk-full.sh   (kill -9 instead of SIGTERM)
#        INPLACE=1 scripts/disk-full.sh                 (free space, no restart)
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-64m}
FSYNC=${FSYNC:-always}
PORT=${PORT:-16393}
HTTP=${HTTP:-19393}
MAX=${MAX:-200000} # SETs at most
KILL=${KILL:-TERM}  # the signal that stops the server once the disk is full
INPLACE=${INPLACE:-0}

[ "$(id -u)" -eq 0 ] || { echo "disk-full: needs root (it mounts a tmpfs)" >&2; exit 2; }
command -v redis-cli >/dev/null || { echo "disk-full: needs redis-tools" >&2; exit 2; }

work=$(mktemp -d)
mnt="$work/mnt"
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	umount "$mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$mnt"
mount -t tmpfs -o size="$SIZE" tmpfs "$mnt"
go build -o "$work/epoch" ./cmd/epoch

start() {
	"$work/epoch" serve --dir "$mnt/data" --addr "127.0.0.1:$PORT" --http-addr "127.0.0.1:$HTTP" \
		--appendfsync "$FSYNC" --log-level warn 2>>"$work/log" &
	pid=$!
	for _ in $(seq 20); do
		timeout 1 redis-cli -p "$PORT" PING >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

start || { echo "disk-full: the server did not start" >&2; exit 1; }
value=$(head -c 1000 /dev/zero | tr '\0' 'x')
# One redis-cli per batch of SETs, reading a reply per SET: a SET is
# acknowledged when its reply is OK.
i=0
first_err=""
t0=$(date +%s.%N)
while [ "$i" -lt "$MAX" ] && [ -z "$first_err" ]; do
	out=$(for j in $(seq "$i" $((i + 499))); do echo "SET k$j $value"; done | redis-cli -p "$PORT" 2>&1 || true)
	n=0
	while IFS= read -r line; do
		if [ "$line" = OK ]; then
			echo "k$((i + n))" >>"$work/acked"
			n=$((n + 1))
		else
			first_err=$line
			break
		fi
	done <<<"$out"
	i=$((i + n))
done
t1=$(date +%s.%N)
acked=$(wc -l <"$work/acked")
echo "acknowledged SETs: $acked ($(awk -v a="$t0" -v b="$t1" -v n="$acked" 'BEGIN { printf "%.0f", n / (b - a) }')/s), disk: $(df -h "$mnt" | awk 'NR == 2 { print $3 " of " $2 }')"
echo "first failed write: ${first_err:-none (MAX reached)}"
echo "GET k0 while full: $(redis-cli -p "$PORT" GET k0 | head -c 20)…"
echo "SET while full: $(redis-cli -p "$PORT" SET probe v)"
echo "PING while full: $(redis-cli -p "$PORT" PING)"
echo "/healthz while full: $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/healthz") $(curl -s "http://127.0.0.1:$HTTP/healthz")"
echo "INFO: $(redis-cli -p "$PORT" INFO persistence | tr -d '\r' | grep aof_last_write_status)"

count_missing() {
	while IFS= read -r k; do
		printf 'EXISTS %s\n' "$k"
	done <"$work/acked" | redis-cli -p "$PORT" | grep -c '^0$' || true
}

if [ "$INPLACE" = 1 ]; then
	mount -o remount,size=512m "$mnt"
	r0=$(date +%s.%N)
	ok=""
	for _ in $(seq 300); do
		if [ "$(redis-cli -p "$PORT" SET after v 2>&1)" = OK ]; then
			ok=1
			break
		fi
		sleep 0.1
	done
	took=$(awk -v a="$r0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2fs", b - a }')
	if [ -z "$ok" ]; then
		echo "after freeing space, no restart: writes still refused after $took: $(redis-cli -p "$PORT" SET after v | cut -c1-100)"
		exit 1
	fi
	echo "after freeing space, no restart: writes accepted again after $took; $(count_missing) of $acked acknowledged SETs missing"
	echo "/healthz: $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/healthz"); INFO: $(redis-cli -p "$PORT" INFO persistence | tr -d '\r' | grep aof_last_write_status), $(redis-cli -p "$PORT" INFO epochdb | tr -d '\r' | grep engine_reopens)"
	exit 0
fi
s0=$(date +%s.%N)
kill -"$KILL" "$pid"
wait "$pid" 2>/dev/null || true
pid=""
echo "SIG$KILL to exit: $(awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2fs", b - a }')"

if start; then
	echo "restart on the full disk: started; SET: $(redis-cli -p "$PORT" SET probe v | cut -c1-60)"
else
	state="exited"
	kill -0 "$pid" 2>/dev/null && state="still running, not listening"
	echo "restart on the full disk: not serving within 20s ($state); $(wc -l <"$work/log") log lines so far, the last: $(tail -1 "$work/log" | cut -c1-160)"
fi
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=""

mount -o remount,size=512m "$mnt"
start || { echo "disk-full: no restart after freeing space: $(tail -1 "$work/log")" >&2; exit 1; }
missing=$(count_missing)
echo "after freeing space and restarting: $missing of $acked acknowledged SETs missing; SET now: $(redis-cli -p "$PORT" SET after v)"
