#!/usr/bin/env bash
# Benchmarks a three-node `epoch serve --cluster` (on loopback) against a
# single `epoch serve`, with redis-benchmark: SET and GET, 50 clients,
# 100-byte values, pipeline 1 and 16, alternating ROUNDS times; writes go to
# the leader, reads too (linearizable: each confirms the leadership). Also
# measures a failover: the leader is killed with SIGKILL and the time until
# a SET through another node succeeds is printed.
#
# Usage: scripts/bench-cluster.sh            (N=50000 requests per run, ROUNDS=3)
#        FSYNC=always scripts/bench-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-50000}
ROUNDS=${ROUNDS:-3}
FSYNC=${FSYNC:-everysec}
command -v redis-benchmark >/dev/null || { echo "bench-cluster: needs redis-tools" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/epoch" ./cmd/epoch

peers="n1=127.0.0.1:17101,n2=127.0.0.1:17102,n3=127.0.0.1:17103"
declare -A pid
for i in 1 2 3; do
	"$work/epoch" serve --cluster --node-id "n$i" --raft-addr "127.0.0.1:1710$i" --peers "$peers" \
		--dir "$work/n$i" --addr "127.0.0.1:1638$i" --http-addr "" --appendfsync "$FSYNC" --log-level warn 2>>"$work/log" &
	pid[$i]=$!
	pids+=($!)
done
"$work/epoch" serve --dir "$work/single" --addr 127.0.0.1:16390 --http-addr "" --appendfsync "$FSYNC" --log-level warn 2>>"$work/log" &
pids+=($!)

leader=""
for _ in $(seq 100); do
	for i in 1 2 3; do
		if [ "$(redis-cli -p "1638$i" ROLE 2>/dev/null | head -1)" = master ]; then leader=$i; fi
	done
	[ -n "$leader" ] && break
	sleep 0.1
done
[ -n "$leader" ] || { echo "bench-cluster: no leader" >&2; exit 1; }

rps() { # port test pipeline
	redis-benchmark -p "$1" -t "$2" -n "$N" -c 50 -d 100 -r 100000 -P "$3" -q 2>/dev/null | tr '\r' '\n' |
		awk -F'[: ]+' '/requests per second/ { for (i = 1; i <= NF; i++) if ($i == "requests") print $(i-1) }' | tail -1
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf '| test | pipeline | cluster (leader) | single node | ratio |\n| --- | --- | ---: | ---: | ---: |\n'
for t in set get; do
	for p in 1 16; do
		c=()
		s=()
		for _ in $(seq "$ROUNDS"); do
			c+=("$(rps "1638$leader" "$t" "$p")")
			s+=("$(rps 16390 "$t" "$p")")
		done
		cm=$(printf '%s\n' "${c[@]}" | median)
		sm=$(printf '%s\n' "${s[@]}" | median)
		printf '| %s | %s | %.0f | %.0f | %.2f |\n' "$t" "$p" "$cm" "$sm" "$(awk -v a="$cm" -v b="$sm" 'BEGIN { print a / b }')"
	done
done

other=$(( leader % 3 + 1 ))
kill -9 "${pid[$leader]}"
t0=$(date +%s.%N)
for _ in $(seq 600); do
	[ "$(redis-cli -p "1638$other" SET failover x 2>/dev/null)" = OK ] && break
	sleep 0.01
done
echo "failover: a SET through n$other succeeded $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2fs", b - a }') after SIGKILL of the leader n$leader"
