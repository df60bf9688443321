#!/usr/bin/env bash
# Benchmarks `epoch serve` against redis-server with redis-benchmark: SET,
# GET, INCR and SET with EX (a custom command), 50 clients, 100-byte
# values, without and with pipelining (-P 1, -P 16). The two servers run on
# 127.0.0.1 on distinct ports, with comparable durability (EpochDB
# appendfsync everysec = WAL fsync every 100ms; Redis appendonly yes,
# appendfsync everysec). The runs alternate between the servers, ROUNDS
# times, and the table shows the median requests per second of each and
# their ratio.
#
# Usage: scripts/bench-redis.sh            (N=100000 requests per run, ROUNDS=3)
#        N=20000 ROUNDS=1 scripts/bench-redis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-100000}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
SIZE=${SIZE:-100}
EPOCH_PORT=${EPOCH_PORT:-16380}
REDIS_PORT=${REDIS_PORT:-16379}

need=()
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO="sudo"
	echo "bench: installing ${need[*]}" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
epoch_pid=""
redis_pid=""
cleanup() {
	[ -n "$epoch_pid" ] && kill "$epoch_pid" 2>/dev/null && wait "$epoch_pid" 2>/dev/null || true
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/epoch" ./cmd/epoch
"$work/epoch" serve --dir "$work/epoch-data" --addr "127.0.0.1:$EPOCH_PORT" --http-addr "" \
	--appendfsync everysec --log-level warn 2>"$work/epoch.log" &
epoch_pid=$!
mkdir -p "$work/redis-data"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$work/redis-data" --save "" \
	--appendonly yes --appendfsync everysec --daemonize no --logfile "$work/redis.log" &
redis_pid=$!

wait_ready() {
	for _ in $(seq 100); do
		redis-cli -p "$1" PING >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench: server on port $1 did not start" >&2
	exit 1
}
wait_ready "$EPOCH_PORT"
wait_ready "$REDIS_PORT"

value=$(head -c "$SIZE" /dev/zero | tr '\0' 'x')

# run PORT PIPELINE TEST: prints the requests per second of one run.
run() {
	local port=$1 p=$2 test=$3
	local args=(-h 127.0.0.1 -p "$port" -n "$N" -c "$CLIENTS" -d "$SIZE" -P "$p" -r 100000 --csv)
	if [ "$test" = "SET_EX" ]; then
		redis-benchmark "${args[@]}" SET "key:__rand_int__" "$value" EX 100
	else
		redis-benchmark "${args[@]}" -t "$test"
	fi | awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf '%-8s %4s %14s %14s %8s\n' test P epoch_rps redis_rps ratio
for p in 1 16; do
	for test in set get incr SET_EX; do
		: >"$work/e" && : >"$work/r"
		for round in $(seq "$ROUNDS"); do
			if [ $((round % 2)) -eq 1 ]; then
				run "$EPOCH_PORT" "$p" "$test" >>"$work/e"
				run "$REDIS_PORT" "$p" "$test" >>"$work/r"
			else
				run "$REDIS_PORT" "$p" "$test" >>"$work/r"
				run "$EPOCH_PORT" "$p" "$test" >>"$work/e"
			fi
		done
		e=$(median <"$work/e")
		r=$(median <"$work/r")
		ratio=$(awk -v e="$e" -v r="$r" 'BEGIN { if (r > 0) printf "%.2f", e / r; else print "-" }')
		printf '%-8s %4s %14s %14s %8s\n' "$test" "$p" "$e" "$r" "$ratio"
	done
done
