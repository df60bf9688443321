package jepsen

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// State is what one node holds, read through its own store (READONLY,
// CLIENT NO-TOUCH: the reads change nothing): every key of database 0 with
// its value and metadata, and its event log.
type State struct {
	Node    string
	Keys    map[string]string // key → value and metadata, as text
	Events  []string          // EPOCH.EVENTS, oldest first
	Retired []string          // each event's kind and key ("expired t1.2")
	Applied string            // raft's applied index (INFO replication)
}

// ReadState reads n's State.
func ReadState(ctx context.Context, n *Node) (State, error) {
	c := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1, Protocol: 2, PoolSize: 1,
		ReadTimeout: 10 * time.Second,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			if err := cn.ReadOnly(ctx).Err(); err != nil {
				return err
			}
			return cn.Do(ctx, "CLIENT", "NO-TOUCH", "ON").Err()
		}})
	defer c.Close()
	st := State{Node: n.ID, Keys: map[string]string{}}
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return st, fmt.Errorf("%s: INFO: %w", n.ID, err)
	}
	st.Applied = infoField(info, "cluster_applied_index")
	var keys []string
	var cursor uint64
	for {
		ks, next, err := c.Scan(ctx, cursor, "*", 1000).Result()
		if err != nil {
			return st, fmt.Errorf("%s: SCAN: %w", n.ID, err)
		}
		keys = append(keys, ks...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	sort.Strings(keys)
	for start := 0; start < len(keys); start += 500 {
		batch := keys[start:min(start+500, len(keys))]
		p := c.Pipeline()
		values := p.MGet(ctx, batch...)
		metas := make([]*redis.Cmd, len(batch))
		for i, k := range batch {
			metas[i] = p.Do(ctx, "EPOCH.META", k)
		}
		_, _ = p.Exec(ctx)
		vs, err := values.Result()
		if err != nil {
			return st, fmt.Errorf("%s: MGET: %w", n.ID, err)
		}
		for i, k := range batch {
			v, ok := vs[i].(string)
			if !ok {
				continue // expired or deleted since the SCAN
			}
			md, err := metas[i].Slice()
			if err == redis.Nil {
				continue
			}
			if err != nil {
				return st, fmt.Errorf("%s: EPOCH.META %s: %w", n.ID, k, err)
			}
			st.Keys[k] = v + " " + metaText(md)
		}
	}
	evs, err := c.Do(ctx, "EPOCH.EVENTS", "FROM", "0", "COUNT", strconv.Itoa(1<<20)).Slice()
	if err != nil {
		return st, fmt.Errorf("%s: EPOCH.EVENTS: %w", n.ID, err)
	}
	if len(evs) == 2 {
		list, _ := evs[1].([]any)
		for _, e := range list {
			st.Events = append(st.Events, fmt.Sprint(e))
			pairs, _ := e.([]any)
			var kind, key string
			for i := 0; i+1 < len(pairs); i += 2 {
				switch fmt.Sprint(pairs[i]) {
				case "kind":
					kind = fmt.Sprint(pairs[i+1])
				case "key":
					key = fmt.Sprint(pairs[i+1])
				}
			}
			st.Retired = append(st.Retired, kind+" "+key)
		}
	}
	return st, nil
}

// metaText is EPOCH.META's pairs without heat (decayed to the time of the
// reading, so it differs from one reading to the next).
func metaText(md []any) string {
	var b strings.Builder
	for i := 0; i+1 < len(md); i += 2 {
		if name := fmt.Sprint(md[i]); name != "heat" {
			fmt.Fprintf(&b, "%s=%v ", name, md[i+1])
		}
	}
	return strings.TrimSpace(b.String())
}

// Diff describes how b differs from a (empty: the same).
func Diff(a, b State) string {
	var out []string
	for k, v := range a.Keys {
		if w, ok := b.Keys[k]; !ok {
			out = append(out, fmt.Sprintf("%s: %s has %q, %s has none", k, a.Node, v, b.Node))
		} else if v != w {
			out = append(out, fmt.Sprintf("%s: %s has %q, %s has %q", k, a.Node, v, b.Node, w))
		}
	}
	for k, w := range b.Keys {
		if _, ok := a.Keys[k]; !ok {
			out = append(out, fmt.Sprintf("%s: %s has none, %s has %q", k, a.Node, b.Node, w))
		}
	}
	sort.Strings(out)
	if len(a.Events) != len(b.Events) {
		out = append(out, fmt.Sprintf("events: %s has %d, %s has %d", a.Node, len(a.Events), b.Node, len(b.Events)))
	}
	for i := range min(len(a.Events), len(b.Events)) {
		if a.Events[i] != b.Events[i] {
			out = append(out, fmt.Sprintf("event %d: %s has %s, %s has %s", i, a.Node, a.Events[i], b.Node, b.Events[i]))
			break
		}
	}
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("… and %d more differences", len(out)-10))
	}
	return strings.Join(out, "\n")
}

// Converge waits up to timeout until every node has applied the same raft
// index and it stays so for a second (the leader's background work,
// expiry above all, is done), then reads every node's State (in parallel)
// and checks that they are the same and that no node applied anything
// meanwhile. It returns the first node's State; otherwise the differences
// last seen.
func Converge(ctx context.Context, nodes []*Node, timeout time.Duration) (State, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		applied, quiet := appliedIndexes(ctx, nodes)
		if quiet {
			time.Sleep(time.Second)
			if again, ok := appliedIndexes(ctx, nodes); ok && again == applied {
				states, err := readStates(ctx, nodes)
				if err != nil {
					return State{}, err
				}
				diff := ""
				for _, st := range states[1:] {
					if d := Diff(states[0], st); d != "" {
						diff = d
						break
					}
				}
				if after, ok := appliedIndexes(ctx, nodes); ok && after == applied {
					if diff == "" {
						return states[0], nil
					}
					// The same index applied everywhere, and different
					// contents: the nodes diverged.
					return State{}, fmt.Errorf("the nodes diverged (applied index %s on every node):\n%s", applied, diff)
				}
				last = diff
			}
		}
		if time.Now().After(deadline) {
			return State{}, fmt.Errorf("the nodes did not converge within %v (applied indexes %s); last difference seen:\n%s", timeout, applied, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// appliedIndexes returns the nodes' applied indexes as text, and whether
// every node answered with the same.
func appliedIndexes(ctx context.Context, nodes []*Node) (string, bool) {
	var out []string
	same := true
	for _, n := range nodes {
		info, err := n.Admin.Info(ctx, "replication").Result()
		v := "?"
		if err == nil {
			v = infoField(info, "cluster_applied_index")
		}
		if v == "" || v == "?" || len(out) > 0 && !strings.HasSuffix(out[0], "="+v) {
			same = false
		}
		out = append(out, n.ID+"="+v)
	}
	return strings.Join(out, " "), same
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// readStates reads the nodes' States in parallel.
func readStates(ctx context.Context, nodes []*Node) ([]State, error) {
	states := make([]State, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { states[i], errs[i] = ReadState(ctx, n) })
	}
	wg.Wait()
	return states, errors.Join(errs...)
}

// Uniques checks the unique keys in a node's final state: every
// acknowledged one present with its value, none present that no
// operation wrote.
func Uniques(ops []Op, st State) []string {
	written, failed := map[string]Op{}, map[string]Op{}
	for _, o := range ops {
		switch {
		case o.Kind == Unique && o.Status != Fail:
			written[o.Key] = o
		case o.Kind == Unique:
			failed[o.Key] = o
		}
	}
	var bad []string
	for k, o := range written {
		v, ok := st.Keys[k]
		got, _, _ := strings.Cut(v, " ")
		switch {
		case o.Status == OK && !ok:
			bad = append(bad, fmt.Sprintf("acknowledged %s (%s) is missing", k, o))
		case ok && got != strconv.FormatInt(o.Value, 10):
			bad = append(bad, fmt.Sprintf("%s holds %q, written %d", k, got, o.Value))
		}
	}
	for k := range st.Keys {
		if k[0] == 'u' {
			if _, ok := written[k]; !ok {
				bad = append(bad, fmt.Sprintf("%s exists, but no acknowledged or unknown write made it (%s)", k, failed[k]))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// Expiries checks the lifecycle in a node's final state: every event is the
// expiry of a TTL key, each at most once, and every TTL key still present
// has a deadline. It returns the violations and the number of expiries.
func Expiries(st State) ([]string, int) {
	var bad []string
	seen := map[string]bool{}
	for _, r := range st.Retired {
		kind, key, _ := strings.Cut(r, " ")
		switch {
		case kind != "expired" || !strings.HasPrefix(key, "t"):
			bad = append(bad, "unexpected event: "+r)
		case seen[key]:
			bad = append(bad, "expired twice: "+key)
		case st.Keys[key] != "":
			bad = append(bad, "expired but present: "+key)
		}
		seen[key] = true
	}
	for k, v := range st.Keys {
		if k[0] == 't' && strings.Contains(v, "expires_at=-1") {
			bad = append(bad, "TTL key without a deadline: "+k+" "+v)
		}
	}
	sort.Strings(bad)
	return bad, len(st.Retired)
}
