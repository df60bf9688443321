#!/usr/bin/env bash
# Benchmarks `epoch serve` against redis-server with redis-benchmark: SET,
# GET, INCR and SET with EX (a custom command), the collection tests HSET,
# SADD, SPOP and HGET (a custom command on the hash HSET fills), 50
# clients, 100-byte values, without and with pipelining (-P 1, -P 16). The two servers run on
# 127.0.0.1 on distinct ports, with comparable durability (EpochDB
# appendfsync everysec = WAL fsync every 100ms; Redis appendonly yes,
# appendfsync everysec). The runs alternate between the servers, ROUNDS
# times, and the table shows the median requests per second of each and
# their ratio.
#
# Usage: scripts/bench-redis.sh            (N=100000 requests per run, ROUNDS=3)
#        N=20000 ROUNDS=1 scripts/bench-redis.sh
#        FSYNC=always scripts/bench-redis.sh  (both servers fsync every write)
#        TESTS="hset HGET sadd spop" PIPELINES=1 scripts/bench-redis.sh
#                                 (a subset; HGET runs on what hset wrote)
#        TESTS="lpush rpush lpop rpop lrange_100" PIPELINES=1 scripts/bench-redis.sh
#                                 (lists: the pops take what the pushes left)
#
# Large mode: scripts/bench-redis.sh large
# the same comparison at a size where the keys no longer fit in the
# engine's memtables and caches: both servers are preloaded with
# `redis-benchmark -t set -r LARGE_KEYS -n 2*LARGE_KEYS -d SIZE -P 16`
# (LARGE_KEYS=3000000: about 2.6M distinct keys), timed; then GET and SET
# at pipeline 1 over the same key range, alternating ROUNDS times; then
# each server's RSS.
#
# Memory mode: scripts/bench-redis.sh memory
# loads STEPS (cumulative key counts, default 1M 3M 6M 10M) of distinct keys
# (key:%012d, SIZE-byte values, no TTL) into `epoch serve` with
# `redis-cli --pipe`, and after each step prints the server's RSS (VmRSS),
# peak RSS (VmHWM) and on-disk size (du -sb of --dir). Then the same into
# redis-server (appendonly no, save "": persistence does not change what it
# holds in RAM) up to REDIS_MAX keys (default 3M), printing used_memory and
# RSS; past REDIS_MAX the Redis columns are extrapolated from the bytes per
# key at REDIS_MAX (marked ~). The servers run one after the other.
#        STEPS="1000000 2000000" REDIS_MAX=1000000 scripts/bench-redis.sh memory
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-100000}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
SIZE=${SIZE:-100}
EPOCH_PORT=${EPOCH_PORT:-16380}
REDIS_PORT=${REDIS_PORT:-16379}
MODE=${1:-compare}
FSYNC=${FSYNC:-everysec}
LARGE_KEYS=${LARGE_KEYS:-3000000}
STEPS=${STEPS:-1000000 3000000 6000000 10000000}
REDIS_MAX=${REDIS_MAX:-3000000}
SETTLE=${SETTLE:-5}
TESTS=${TESTS:-set get incr SET_EX hset HGET sadd spop}
PIPELINES=${PIPELINES:-1 16}
case "$MODE" in
compare | memory | large) ;;
*)
	echo "usage: $0 [compare|memory|large]" >&2
	exit 2
	;;
esac

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

wait_ready() {
	for _ in $(seq 100); do
		redis-cli -p "$1" PING >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "bench: server on port $1 did not start" >&2
	exit 1
}

# gen FROM TO: the RESP for SET key:%012d <SIZE bytes> for keys FROM..TO-1.
gen() {
	awk -v from="$1" -v to="$2" -v size="$SIZE" 'BEGIN {
		v = sprintf("%*s", size, ""); gsub(/ /, "x", v)
		for (i = from; i < to; i++)
			printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s\r\n", i, size, v
	}'
}

# load PORT FROM TO: pipes the keys into the server, fails on any error reply.
load() {
	local out
	out=$(gen "$2" "$3" | redis-cli -p "$1" --pipe 2>&1)
	if ! grep -q 'errors: 0,' <<<"$out"; then
		echo "bench: load into port $1 failed: $out" >&2
		exit 1
	fi
}

mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 * 1024 }' "/proc/$1/status"; }
info_field() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: -v k="$2" '$1 == k { print $2 }'; }

memory() {
	local prev=0 n t0 t1 rss hwm disk
	declare -A ers ehwm edisk erate rused rrss
	"$work/epoch" serve --dir "$work/epoch-data" --addr "127.0.0.1:$EPOCH_PORT" --http-addr "" \
		--appendfsync everysec --log-level warn 2>"$work/epoch.log" &
	epoch_pid=$!
	wait_ready "$EPOCH_PORT"
	for n in $STEPS; do
		t0=$(date +%s.%N)
		load "$EPOCH_PORT" "$prev" "$n"
		t1=$(date +%s.%N)
		sleep "$SETTLE"
		erate[$n]=$(awk -v a="$t0" -v b="$t1" -v k=$((n - prev)) 'BEGIN { printf "%.0f", k / (b - a) }')
		ers[$n]=$(status_kb "$epoch_pid" VmRSS)
		ehwm[$n]=$(status_kb "$epoch_pid" VmHWM)
		edisk[$n]=$(du -sb "$work/epoch-data" | cut -f1)
		echo "bench: epoch $n keys: load ${erate[$n]} keys/s, RSS $(mib "${ers[$n]}") MiB, disk $(mib "${edisk[$n]}") MiB" >&2
		prev=$n
	done
	kill "$epoch_pid" && wait "$epoch_pid" 2>/dev/null || true
	epoch_pid=""
	rm -rf "$work/epoch-data"

	mkdir -p "$work/redis-data"
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$work/redis-data" --save "" \
		--appendonly no --daemonize no --logfile "$work/redis.log" &
	redis_pid=$!
	wait_ready "$REDIS_PORT"
	prev=0
	local last=0
	for n in $STEPS; do
		[ "$n" -gt "$REDIS_MAX" ] && break
		load "$REDIS_PORT" "$prev" "$n"
		rused[$n]=$(info_field "$REDIS_PORT" used_memory)
		rrss[$n]=$(status_kb "$redis_pid" VmRSS)
		echo "bench: redis $n keys: used_memory $(mib "${rused[$n]}") MiB, RSS $(mib "${rrss[$n]}") MiB" >&2
		prev=$n
		last=$n
	done
	kill "$redis_pid" && wait "$redis_pid" 2>/dev/null || true
	redis_pid=""

	printf '| %10s | %10s | %10s | %10s | %12s | %12s | %10s |\n' keys "epoch RSS" "epoch peak" "epoch disk" "load keys/s" "redis used" "redis RSS"
	printf '| %10s | %10s | %10s | %10s | %12s | %12s | %10s |\n' ---------: ---------: ---------: ---------: -----------: -----------: ---------:
	for n in $STEPS; do
		local ru rr
		if [ -n "${rused[$n]:-}" ]; then
			ru="$(mib "${rused[$n]}") MiB"
			rr="$(mib "${rrss[$n]}") MiB"
		elif [ "$last" -gt 0 ]; then
			ru="~$(mib $((rused[$last] * n / last))) MiB"
			rr="~$(mib $((rrss[$last] * n / last))) MiB"
		else
			ru=- rr=-
		fi
		printf '| %10s | %10s | %10s | %10s | %12s | %12s | %10s |\n' "$n" "$(mib "${ers[$n]}") MiB" \
			"$(mib "${ehwm[$n]}") MiB" "$(mib "${edisk[$n]}") MiB" "${erate[$n]}" "$ru" "$rr"
	done
}

if [ "$MODE" = memory ]; then
	memory
	exit 0
fi

"$work/epoch" serve --dir "$work/epoch-data" --addr "127.0.0.1:$EPOCH_PORT" --http-addr "" \
	--appendfsync "$FSYNC" --log-level warn 2>"$work/epoch.log" &
epoch_pid=$!
mkdir -p "$work/redis-data"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$work/redis-data" --save "" \
	--appendonly yes --appendfsync "$FSYNC" --daemonize no --logfile "$work/redis.log" &
redis_pid=$!

wait_ready "$EPOCH_PORT"
wait_ready "$REDIS_PORT"

value=$(head -c "$SIZE" /dev/zero | tr '\0' 'x')

# run PORT PIPELINE TEST: prints the requests per second of one run.
RANGE=100000
run() {
	local port=$1 p=$2 test=$3
	local args=(-h 127.0.0.1 -p "$port" -n "$N" -c "$CLIENTS" -d "$SIZE" -P "$p" -r "$RANGE" --csv)
	if [ "$test" = "SET_EX" ]; then
		redis-benchmark "${args[@]}" SET "key:__rand_int__" "$value" EX 100
	elif [ "$test" = "HGET" ]; then
		redis-benchmark "${args[@]}" HGET myhash "element:__rand_int__"
	else
		redis-benchmark "${args[@]}" -t "$test"
	fi | awk -F'","' 'NR > 1 { gsub(/"/, "", $2); v = $2 } END { print v }' # the last test: lrange_100 fills first
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v e="$1" -v r="$2" 'BEGIN { if (r > 0) printf "%.2f", e / r; else print "-" }'; }

# preload PORT: loads the large key range, prints the requests per second.
preload() {
	local t0 t1
	t0=$(date +%s.%N)
	redis-benchmark -h 127.0.0.1 -p "$1" -t set -r "$LARGE_KEYS" -n $((2 * LARGE_KEYS)) -c "$CLIENTS" \
		-d "$SIZE" -P 16 -q >/dev/null
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" -v n=$((2 * LARGE_KEYS)) 'BEGIN { printf "%.0f", n / (b - a) }'
}

if [ "$MODE" = large ]; then
	RANGE=$LARGE_KEYS
	e=$(preload "$EPOCH_PORT")
	echo "bench: epoch preload: $e SETs/s" >&2
	r=$(preload "$REDIS_PORT")
	echo "bench: redis preload: $r SETs/s" >&2
	printf '%-10s %4s %14s %14s %8s\n' test P epoch_rps redis_rps ratio
	printf '%-10s %4s %14s %14s %8s\n' preload 16 "$e" "$r" "$(ratio "$e" "$r")"
	for test in get set; do
		: >"$work/e" && : >"$work/r"
		for round in $(seq "$ROUNDS"); do
			run "$EPOCH_PORT" 1 "$test" >>"$work/e"
			run "$REDIS_PORT" 1 "$test" >>"$work/r"
		done
		e=$(median <"$work/e")
		r=$(median <"$work/r")
		printf '%-10s %4s %14s %14s %8s\n' "$test" 1 "$e" "$r" "$(ratio "$e" "$r")"
	done
	ers=$(status_kb "$epoch_pid" VmRSS)
	rrs=$(status_kb "$redis_pid" VmRSS)
	printf '%-10s %4s %13sM %13sM %8s\n' RSS - "$(mib "$ers")" "$(mib "$rrs")" "$(ratio "$ers" "$rrs")"
	exit 0
fi

printf '%-8s %4s %14s %14s %8s\n' test P epoch_rps redis_rps ratio
for p in $PIPELINES; do
	for test in $TESTS; do
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
		printf '%-8s %4s %14s %14s %8s\n' "$test" "$p" "$e" "$r" "$(ratio "$e" "$r")"
	done
done
