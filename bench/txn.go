package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// The transaction and batch workloads (issue 3, "Transactions and batches").

const (
	// txKeys is how many keys one tx-uncontended transaction reads and
	// writes back.
	txKeys = 4
	// hotKeys is the number of hot keys tx-contended transfers between.
	hotKeys   = 10
	hotPrefix = "hot:"
	// hotInitial is each hot key's starting balance: far above what a 3s
	// run can move (at most 100 per transfer), so no transfer is refused.
	hotInitial = 1_000_000_000
)

// txTally is a worker's count of transaction runs and, in tx-contended, of
// what its committed transfers did to each hot key.
type txTally struct {
	runs  int64          // times a transaction function ran (committed transactions + retries)
	delta [hotKeys]int64 // net amount moved into each hot key
	count [hotKeys]int64 // committed transfers that touched each hot key
	keys  [txKeys][]byte // the current transaction's keys (stable until Update returns)
	vals  [txKeys][]byte // the values it read
}

func (t *txTally) merge(o *txTally) {
	t.runs += o.runs
	for i := range t.delta {
		t.delta[i] += o.delta[i]
		t.count[i] += o.count[i]
	}
}

// txResult is what a transaction workload reports besides throughput and
// latency.
type txResult struct {
	retries  int64     // runs of the transaction function beyond one per committed transaction
	counters *txCounts // the engine's own counters over the run, if it keeps any
	check    string    // the end-state verification, if any
}

// batchResult is what batch-load reports.
type batchResult struct {
	keys   int
	bytes  int64         // user bytes written: keys + values
	build  time.Duration // the Set calls (Badger commits transactions meanwhile)
	commit time.Duration // Commit / Flush
}

// runTx runs a transaction workload on e for the configured duration.
func runTx(c *config, rn *runner, e Engine, name string) *result {
	te, ok := e.(TxEngine)
	if !ok {
		return &result{err: errors.New("engine has no transaction adapter")}
	}
	var f op
	switch name {
	case "tx-uncontended":
		f = txUncontendedOp(te, c.keys, c.ttl)
	case "tx-contended":
		if err := initHot(te); err != nil {
			return &result{err: fmt.Errorf("initialising the hot keys: %w", err)}
		}
		f = txContendedOp(te)
	default:
		panic("not a transaction workload: " + name)
	}
	var before txCounts
	tc, counted := e.(txCounter)
	if counted {
		before = tc.txCounters()
	}
	r := rn.timed(c.duration, nil, false, f)
	x := &txResult{retries: r.tx.runs - r.ops}
	if counted {
		after := tc.txCounters()
		x.counters = &txCounts{
			commits:   after.commits - before.commits,
			conflicts: after.conflicts - before.conflicts,
			retries:   after.retries - before.retries,
			gaveUp:    after.gaveUp - before.gaveUp,
		}
	}
	r.txr = x
	if r.err != nil {
		return r
	}
	if name == "tx-contended" {
		check, err := verifyHot(e, &r.tx, r.ops)
		x.check = check
		if err != nil {
			r.err = err
		}
	}
	if x.counters != nil && r.err == nil {
		// The harness's count of re-runs must match the engine's: its own
		// retries plus the adapter's calls after it gave up.
		if got := int64(x.counters.retries + x.counters.gaveUp); got != x.retries {
			r.err = fmt.Errorf("retry counts disagree: the workload saw %d re-runs, the engine reports %d retries + %d give-ups",
				x.retries, x.counters.retries, x.counters.gaveUp)
		} else if int64(x.counters.commits) < r.ops {
			r.err = fmt.Errorf("the engine reports %d commits for %d committed transactions", x.counters.commits, r.ops)
		}
	}
	return r
}

// txUncontendedOp reads txKeys distinct uniformly random keys of [0, n) and
// writes each back (its value as read, with a fresh TTL) in one
// transaction. A key found missing (which should not happen: all are
// loaded) is written with a new value and counted as a miss.
func txUncontendedOp(te TxEngine, n int, ttl time.Duration) op {
	return func(w *worker) error {
		t := &w.tx
		for i := 0; i < len(t.keys); {
			t.keys[i] = appendKey(t.keys[i][:0], keyPrefix, w.rng.IntN(n))
			dup := false
			for j := range i {
				dup = dup || string(t.keys[j]) == string(t.keys[i])
			}
			if !dup {
				i++
			}
		}
		keys := t.keys[:]
		missed := false
		err := te.Update(keys, func(tx Txn) error {
			t.runs++
			missed = false
			for i, k := range keys {
				v, err := tx.Get(k)
				switch {
				case errors.Is(err, errNotFound):
					missed = true
					v = w.nextValue()
				case err != nil:
					return err
				}
				t.vals[i] = v
			}
			for i, k := range keys {
				if err := tx.Set(k, t.vals[i], ttl); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil && missed {
			return errNotFound
		}
		return err
	}
}

// A hot key's value: its balance and the number of committed transfers
// that touched it, 8 bytes each.
func encodeHot(balance, count int64) []byte {
	v := binary.BigEndian.AppendUint64(nil, uint64(balance))
	return binary.BigEndian.AppendUint64(v, uint64(count))
}

func decodeHot(v []byte) (balance, count int64, err error) {
	if len(v) != 16 {
		return 0, 0, fmt.Errorf("hot key value of %d bytes, want 16", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:])), nil
}

func hotKey(i int) []byte { return appendKey(nil, hotPrefix, i) }

// initHot sets every hot key to hotInitial with no transfers, in one
// transaction (no TTL).
func initHot(te TxEngine) error {
	keys := make([][]byte, hotKeys)
	for i := range keys {
		keys[i] = hotKey(i)
	}
	return te.Update(keys, func(tx Txn) error {
		for _, k := range keys {
			if err := tx.Set(k, encodeHot(hotInitial, 0), 0); err != nil {
				return err
			}
		}
		return nil
	})
}

// errShort aborts a transfer that would overdraw a key; with hotInitial
// far above what a run can move it never happens.
var errShort = errors.New("tx-contended: balance too low for a transfer (raise hotInitial)")

// txContendedOp moves a random amount (1-100) from one hot key to another
// (two distinct keys of hotKeys) in a read-modify-write transaction, and
// tallies what it committed so the end state can be checked exactly.
func txContendedOp(te TxEngine) op {
	return func(w *worker) error {
		t := &w.tx
		a := w.rng.IntN(hotKeys)
		b := w.rng.IntN(hotKeys - 1)
		if b >= a {
			b++
		}
		amount := int64(1 + w.rng.IntN(100))
		t.keys[0] = appendKey(t.keys[0][:0], hotPrefix, a)
		t.keys[1] = appendKey(t.keys[1][:0], hotPrefix, b)
		ka, kb := t.keys[0], t.keys[1]
		err := te.Update(t.keys[:2], func(tx Txn) error {
			t.runs++
			va, err := tx.Get(ka)
			if err != nil {
				return fmt.Errorf("hot key %s: %w", ka, err)
			}
			vb, err := tx.Get(kb)
			if err != nil {
				return fmt.Errorf("hot key %s: %w", kb, err)
			}
			balA, cntA, err := decodeHot(va)
			if err != nil {
				return err
			}
			balB, cntB, err := decodeHot(vb)
			if err != nil {
				return err
			}
			if balA < amount {
				return errShort
			}
			if err := tx.Set(ka, encodeHot(balA-amount, cntA+1), 0); err != nil {
				return err
			}
			return tx.Set(kb, encodeHot(balB+amount, cntB+1), 0)
		})
		if err != nil {
			return err
		}
		t.delta[a] -= amount
		t.delta[b] += amount
		t.count[a]++
		t.count[b]++
		return nil
	}
}

// verifyHot reads the hot keys back with plain Gets after the run and
// checks them against what the workers committed: every key's balance and
// transfer count exactly, and the sum conserved. A lost update or a
// transfer applied twice shows here.
func verifyHot(e Engine, t *txTally, committed int64) (string, error) {
	var sum, transfers int64
	var bad []string
	for i := range hotKeys {
		v, err := e.Get(hotKey(i))
		if err != nil {
			return "hot key unreadable", fmt.Errorf("verification: reading %s: %w", hotKey(i), err)
		}
		bal, cnt, err := decodeHot(v)
		if err != nil {
			return "hot key corrupt", fmt.Errorf("verification: %s: %w", hotKey(i), err)
		}
		sum += bal
		transfers += cnt
		if want := hotInitial + t.delta[i]; bal != want || cnt != t.count[i] {
			bad = append(bad, fmt.Sprintf("%s balance %d (want %d) transfers %d (want %d)", hotKey(i), bal, want, cnt, t.count[i]))
		}
	}
	want := int64(hotKeys * hotInitial)
	switch {
	case sum != want:
		return fmt.Sprintf("SUM NOT CONSERVED (%+d)", sum-want),
			fmt.Errorf("verification: sum of balances %d, want %d; %v", sum, want, bad)
	case len(bad) > 0 || transfers != 2*committed:
		return "LOST OR DUPLICATED TRANSFERS",
			fmt.Errorf("verification: %d transfers recorded in the keys for %d committed; %v", transfers/2, committed, bad)
	}
	return fmt.Sprintf("ok: sum conserved, %d transfers exact", committed), nil
}

// runBatchLoad writes n keys (scattered order, TTL ttl) into e in one batch
// and commits it, timing the two phases, then checks a sample of the keys.
func runBatchLoad(rn *runner, e Engine, n int, ttl time.Duration) *result {
	lb, ok := e.(LoadBatcher)
	if !ok {
		return &result{err: errors.New("engine has no batch adapter")}
	}
	runtime.GC()
	w := rn.newWorkers(false)[0]
	x := &batchResult{keys: n}
	start := time.Now()
	b := lb.NewLoadBatch()
	for i := range n {
		k := w.setKey(keyPrefix, scatter(i, n))
		v := w.nextValue()
		x.bytes += int64(len(k) + len(v))
		if err := b.Set(k, v, ttl); err != nil {
			return &result{err: fmt.Errorf("batch Set %d: %w", i, err)}
		}
	}
	x.build = time.Since(start)
	t0 := time.Now()
	err := b.Commit()
	x.commit = time.Since(t0)
	r := &result{threads: 1, ops: int64(n), elapsed: time.Since(start), batch: x, err: err}
	r.hist.record(r.elapsed)
	if err != nil {
		return r
	}
	// Spot-check: 1000 keys spread over the keyspace must be there.
	for i := 0; i < n; i += max(n/1000, 1) {
		if _, err := e.Get(w.setKey(keyPrefix, i)); err != nil {
			r.err = fmt.Errorf("after the batch, %s: %w", w.key, err)
			break
		}
	}
	if s, ok := e.(*epochEngine); ok && r.err == nil && s.db.Len() != int64(n) {
		r.err = fmt.Errorf("after the batch, Len() = %d, want %d", s.db.Len(), n)
	}
	return r
}
