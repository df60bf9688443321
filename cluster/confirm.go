package cluster

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// confirmTransport is raft's transport, noting for every peer when the
// newest AppendEntries it accepted was sent, and in which term.
//
// It exists because raft's VerifyLeader is not enough for a linearizable
// read on its own: it counts any successful AppendEntries reply that
// arrives after the check began, including the reply to a heartbeat sent
// before it. A leader paused (SIGSTOP, a long stall) with such a reply in
// flight wakes up to a check that passes on that old reply, although the
// others elected a new leader and committed writes meanwhile; the read
// that follows returns the state from before them. A reply proves that
// the peer still followed this leader when it answered, so only a reply to
// a request sent after the read began proves that the leadership lasted
// until then (the read index rule of the raft thesis, 6.4).
type confirmTransport struct {
	*raft.NetworkTransport

	mu      sync.Mutex
	acks    map[raft.ServerID]accepted
	changed chan struct{} // closed (and replaced) when acks changes
}

// accepted is the newest AppendEntries a peer accepted: its term, and when
// it was sent.
type accepted struct {
	term uint64
	sent time.Time
}

func newConfirmTransport(t *raft.NetworkTransport) *confirmTransport {
	return &confirmTransport{NetworkTransport: t, acks: map[raft.ServerID]accepted{}, changed: make(chan struct{})}
}

// AppendEntries sends the request (raft's heartbeats, and its replication
// when it does not pipeline) and notes an accepted one.
func (t *confirmTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	sent := time.Now()
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	if err == nil && resp.Success && resp.Term == args.Term {
		t.note(id, accepted{term: args.Term, sent: sent})
	}
	return err
}

func (t *confirmTransport) note(id raft.ServerID, a accepted) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.acks[id]; !ok || a.term > old.term || a.term == old.term && a.sent.After(old.sent) {
		t.acks[id] = a
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// confirmed reports whether a quorum of voters (self included, which
// counts for itself) accepted, in term, requests sent at or after since;
// if not, changed is closed when another acceptance is noted.
func (t *confirmTransport) confirmed(self raft.ServerID, voters []raft.ServerID, term uint64, since time.Time) (ok bool, changed <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	votes := 0
	for _, v := range voters {
		if v == self {
			votes++
			continue
		}
		if a, ok := t.acks[v]; ok && a.term == term && !a.sent.Before(since) {
			votes++
		}
	}
	return votes > len(voters)/2, t.changed
}
