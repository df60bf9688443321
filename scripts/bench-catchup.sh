#!/usr/bin/env bash
# Measures how a new node catches up with a three-node `epoch serve --cluster`
# (on loopback) holding KEYS keys: the leader's log is compacted behind its
# snapshots, so the new node receives the leader's newest snapshot, installs
# it, then replays the log after it, while a writer keeps adding keys through
# the leader. Prints the load, the leader's snapshot (time, size), the join's
# phases (snapshot installed, caught up with the leader) and the install's own
# duration as the new node reports it.
#
# With MODE=log the nodes never snapshot, and the new node replays the whole
# log instead: the way it caught up before snapshots, for comparison.
#
# Usage: scripts/bench-catchup.sh                 (KEYS=1000000, 100-byte values)
#        KEYS=200000 scripts/bench-catchup.sh
#        MODE=log scripts/bench-catchup.sh
# Everything is bounded: each wait gives up after LIMIT seconds (default 600).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=${KEYS:-1000000}
BATCH=${BATCH:-100}    # keys per MSET: one raft entry each (KEYS/BATCH must pass 512)
LIMIT=${LIMIT:-600}
MODE=${MODE:-snapshot}
command -v redis-cli >/dev/null || { echo "bench-catchup: needs redis-tools" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/epoch" ./cmd/epoch

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
info() { redis-cli -p "$1" INFO replication 2>/dev/null | tr -d '\r' | awk -F: -v k="$2" '$1 == k { print $2 }'; }
# wait_for DESCRIPTION COMMAND...: runs COMMAND every 0.1 s until it succeeds,
# at most LIMIT seconds.
wait_for() {
	local what=$1
	shift
	local end=$(($(date +%s) + LIMIT))
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || { echo "bench-catchup: gave up waiting for $what" >&2; tail -20 "$work/log" >&2; exit 1; }
		sleep 0.1
	done
}

# Snapshots every 512 entries (checked every second), 256 kept behind each.
raftflags=(--raft-snapshot-threshold 512 --raft-snapshot-interval 1s --raft-trailing-logs 256)
[ "$MODE" = log ] && raftflags=(--raft-snapshot-threshold 1000000000)
node() { # i peers
	"$work/epoch" serve --cluster --node-id "n$1" --raft-addr "127.0.0.1:1720$1" --peers "$2" "${raftflags[@]}" \
		--dir "$work/n$1" --addr "127.0.0.1:1648$1" --http-addr "" --log-level info 2>>"$work/log" &
	pids+=($!)
}
peers="n1=127.0.0.1:17201,n2=127.0.0.1:17202,n3=127.0.0.1:17203"
for i in 1 2 3; do node "$i" "$peers"; done
leader=""
find_leader() {
	for i in 1 2 3; do
		if [ "$(redis-cli -p "1648$i" ROLE 2>/dev/null | head -1)" = master ]; then leader=$i; return 0; fi
	done
	return 1
}
wait_for "a leader" find_leader
lport=1648$leader

# mset FIRST COUNT: RESP for MSETs of keys key:FIRST … key:FIRST+COUNT-1,
# BATCH keys each, for redis-cli --pipe. A value is 100 bytes, about half
# of them pseudo-random (as the backup benchmark's), so that compression
# does not flatter the snapshot.
mset() {
	awk -v first="$1" -v n="$2" -v batch="$BATCH" 'BEGIN {
		srand(first)
		pad = sprintf("%052d", 0)
		for (i = 0; i < n; i += batch) {
			m = (n - i < batch) ? n - i : batch
			printf "*%d\r\n$4\r\nMSET\r\n", 1 + 2 * m
			for (j = 0; j < m; j++) {
				k = sprintf("key:%010d", first + i + j)
				v = sprintf("%s%08x%08x%08x%08x%08x%08x", pad, rand() * 4294967295, rand() * 4294967295,
					rand() * 4294967295, rand() * 4294967295, rand() * 4294967295, rand() * 4294967295)
				printf "$%d\r\n%s\r\n$100\r\n%s\r\n", length(k), k, v
			}
		}
	}'
}
# load FIRST COUNT: writes keys key:FIRST … through the leader, in chunks of
# 20 MSETs, four connections at once (redis-cli --pipe gives up when a reply
# takes 30 s, and one connection's commands run one after another).
load() {
	local first=$1 count=$2 chunk=$((BATCH * 20)) i
	for ((i = 0; i < count; i += chunk)); do
		echo "$((first + i)) $((count - i < chunk ? count - i : chunk))"
	done | xargs -P 4 -L 1 bash -c 'mset "$0" "$1" | redis-cli -p "'"$lport"'" --pipe >/dev/null'
}
export -f mset
export BATCH
t0=$(now)
load 0 "$KEYS"
load=$(since "$t0")
dbsize() { redis-cli -p "$1" DBSIZE 2>/dev/null; }
[ "$(dbsize "$lport")" = "$KEYS" ] || { echo "bench-catchup: the leader holds $(dbsize "$lport") keys" >&2; exit 1; }
echo "load: $KEYS keys in $load s through the leader n$leader (MSETs of $BATCH keys, one raft entry each, on 4 connections)"

# The leader's newest snapshot covers the load, but for fewer than 512
# entries; its log starts past the first entries.
applied=$(info "$lport" cluster_applied_index)
covered() { [ "$(info "$lport" cluster_last_snapshot_index)" -ge $((applied - 512)) ] && [ "$(info "$lport" cluster_first_log_index)" -gt 1 ]; }
if [ "$MODE" = log ]; then
	echo "no snapshots: the leader's log holds entries $(info "$lport" cluster_first_log_index) to $applied"
else
	wait_for "the leader's snapshot" covered
	snapfile=$(ls -t "$work/n$leader"/raft/snapshots/*/state.bin | head -1)
	echo "leader's snapshot: $(info "$lport" cluster_snapshots) taken, the last in $(info "$lport" cluster_last_snapshot_duration)," \
		"$(du -m "$snapfile" | cut -f1) MiB at index $(info "$lport" cluster_last_snapshot_index); log from index $(info "$lport" cluster_first_log_index) to $applied"
fi

# A fourth node joins while a writer adds keys through the leader.
node 4 ""
listening() { redis-cli -p 16484 PING >/dev/null 2>&1; }
wait_for "n4 to listen" listening
extra=$((KEYS / 20))
(load "$KEYS" "$extra") &
writer=$!
t0=$(now)
"$work/epoch" cluster join n4 127.0.0.1:17204 --addr "127.0.0.1:$lport" >/dev/null
installed() { [ "$(info 16484 cluster_snapshot_installs)" = 1 ]; }
[ "$MODE" = log ] || wait_for "n4's snapshot install" installed
install=$(since "$t0")
wait "$writer"
target=$(info "$lport" cluster_commit_index)
caught() { [ "$(info 16484 cluster_applied_index)" -ge "$target" ]; }
wait_for "n4 to catch up" caught
total=$(since "$t0")
want=$((KEYS + extra))
n4keys=$(printf 'READONLY\nDBSIZE\n' | redis-cli -p 16484 | tail -1)
[ "$n4keys" = "$want" ] || { echo "bench-catchup: n4 holds $n4keys keys, want $want" >&2; exit 1; }
if [ "$MODE" = log ]; then
	[ "$(info 16484 cluster_snapshot_installs)" = 0 ] || { echo "bench-catchup: n4 installed a snapshot" >&2; exit 1; }
	echo "join: n4 replayed the log and caught up with the leader (index $target, $want keys, $extra written meanwhile) after $total s"
else
	echo "join: n4 installed the snapshot $install s after the join (the install itself: $(info 16484 cluster_last_snapshot_install_duration))," \
		"and caught up with the leader (index $target, $want keys, $extra written meanwhile) after $total s"
fi
