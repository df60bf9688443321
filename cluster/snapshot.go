package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/hashicorp/raft"
)

// Raft snapshots. A snapshot is the store's image (epochdb.Image: every
// keyspace exactly as stored, the applied index among it, in the backup
// file's checksummed container) behind a small header holding what the
// node's state machine keeps outside the store: the leader it last saw
// published. Raft takes one every SnapshotThreshold entries, keeps it in
// Dir/snapshots and compacts its log up to TrailingLogs entries before it;
// a node too far behind for the log (a new one, or one down past the
// compaction) receives the leader's snapshot and installs it
// (epochdb.DB.InstallImage), then follows the log.
//
//	"EPOCHRS1" ‖ applied index u64 ‖ uvarint len ‖ leader ID ‖
//	uvarint len ‖ leader client address ‖ CRC-32C of the preceding bytes u32
//	image

// snapMagic starts every snapshot this package writes.
const snapMagic = "EPOCHRS1"

// maxSnapString bounds the header's strings.
const maxSnapString = 4 << 10

var errSnapHeader = errors.New("cluster: not a valid snapshot header")

// snapHeader is the part of a snapshot before the image.
type snapHeader struct {
	applied              uint64 // the store's applied index in the image
	leaderID, leaderAddr string
}

func (h snapHeader) encode() []byte {
	b := append([]byte(nil), snapMagic...)
	b = binary.BigEndian.AppendUint64(b, h.applied)
	b = appendString(b, h.leaderID)
	b = appendString(b, h.leaderAddr)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// readSnapHeader reads and checks a snapshot's header from br, leaving br
// at the image.
func readSnapHeader(br *bufio.Reader) (snapHeader, error) {
	var h snapHeader
	var buf []byte
	read := func(n int) ([]byte, error) {
		start := len(buf)
		buf = append(buf, make([]byte, n)...)
		_, err := io.ReadFull(br, buf[start:])
		return buf[start:], err
	}
	str := func() (string, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil || n > maxSnapString {
			return "", fmt.Errorf("%w: a string of length %d (%v)", errSnapHeader, n, err)
		}
		buf = binary.AppendUvarint(buf, n)
		b, err := read(int(n))
		return string(b), err
	}
	magic, err := read(len(snapMagic) + 8)
	if err != nil || string(magic[:len(snapMagic)]) != snapMagic {
		return h, fmt.Errorf("%w: it does not start with %q", errSnapHeader, snapMagic)
	}
	h.applied = binary.BigEndian.Uint64(magic[len(snapMagic):])
	if h.leaderID, err = str(); err == nil {
		h.leaderAddr, err = str()
	}
	if err != nil {
		return h, fmt.Errorf("%w: %v", errSnapHeader, err)
	}
	sum := crc32.Checksum(buf, castagnoli)
	crc, err := read(4)
	if err != nil || binary.BigEndian.Uint32(crc) != sum {
		return h, fmt.Errorf("%w: checksum mismatch", errSnapHeader)
	}
	return h, nil
}

// fsmSnapshot is a snapshot being written: raft calls Persist from its
// snapshot goroutine while the state machine goes on applying entries,
// which the image, a Pebble snapshot, does not see.
type fsmSnapshot struct {
	n     *Node
	img   *epochdb.Image
	hdr   snapHeader
	start time.Time
}

// Snapshot takes the state machine's snapshot (raft.FSM), on raft's FSM
// goroutine, so at exactly the entries applied so far.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	n := (*Node)(f)
	start := time.Now()
	// The store acknowledges applied entries before its WAL is synced:
	// make them durable, so that the store never restarts behind a
	// snapshot raft kept (and whose entries it may have compacted away).
	if err := n.db.Sync(); err != nil {
		n.met.snapshotDone(0, 0, err)
		return nil, fmt.Errorf("cluster: snapshot: %w", err)
	}
	img, err := n.db.Image()
	if err != nil {
		n.met.snapshotDone(0, 0, err)
		return nil, fmt.Errorf("cluster: snapshot: %w", err)
	}
	id, addr := n.publishedLeader()
	return &fsmSnapshot{n: n, img: img, hdr: snapHeader{applied: img.AppliedIndex(), leaderID: id, leaderAddr: addr}, start: start}, nil
}

// Persist streams the snapshot into sink (raft.FSMSnapshot).
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	size, err := s.write(sink)
	if err != nil {
		_ = sink.Cancel()
	} else if err = sink.Close(); err != nil {
		err = fmt.Errorf("cluster: snapshot: %w", err)
	}
	s.n.met.snapshotDone(time.Since(s.start), size, err)
	if err != nil {
		s.n.log.Error("cluster: writing a snapshot failed", "err", err)
		return err
	}
	s.n.log.Info("cluster: snapshot taken", "applied_index", s.hdr.applied, "bytes", size, "duration", time.Since(s.start))
	return nil
}

func (s *fsmSnapshot) write(w io.Writer) (int64, error) {
	hdr := s.hdr.encode()
	if _, err := w.Write(hdr); err != nil {
		return 0, fmt.Errorf("cluster: snapshot: %w", err)
	}
	n, err := s.img.WriteTo(w)
	return int64(len(hdr)) + n, err
}

// Release frees the snapshot's image (raft.FSMSnapshot).
func (s *fsmSnapshot) Release() { _ = s.img.Close() }

// Restore replaces the state machine with a snapshot (raft.FSM): a
// leader's, sent because this node is too far behind its log, or this
// node's own newest one when it starts. A store whose applied index is at
// or past the snapshot's already holds all of it (the store persists
// itself; a restart finds it so), and only the header is taken; otherwise
// the image is installed. A damaged snapshot is refused with an error and
// the store keeps its contents (raft sends it again, or a node starting
// tries an older one).
func (f *fsm) Restore(rc io.ReadCloser) error {
	n := (*Node)(f)
	defer rc.Close()
	start := time.Now()
	br := bufio.NewReaderSize(rc, 256<<10)
	h, err := readSnapHeader(br)
	if err != nil {
		n.met.restoreDone(0, err)
		return err
	}
	if have := n.db.AppliedIndex(); have >= h.applied {
		n.adoptLeader(h.leaderID, h.leaderAddr, false)
		n.log.Info("cluster: the store already holds the snapshot", "applied_index", have, "snapshot_applied_index", h.applied)
		return nil
	}
	n.log.Info("cluster: installing a snapshot", "applied_index", n.db.AppliedIndex(), "snapshot_applied_index", h.applied)
	info, err := n.db.InstallImage(br)
	if err == nil && info.AppliedIndex != h.applied {
		err = fmt.Errorf("cluster: the snapshot's image is at applied index %d, its header says %d", info.AppliedIndex, h.applied)
	}
	n.met.restoreDone(time.Since(start), err)
	if err != nil {
		return fmt.Errorf("cluster: restore a snapshot: %w", err)
	}
	n.adoptLeader(h.leaderID, h.leaderAddr, true)
	n.log.Info("cluster: snapshot installed", "applied_index", info.AppliedIndex, "entries", info.Entries,
		"bytes", info.Bytes, "duration", time.Since(start))
	return nil
}

// publishedLeader returns the leader's ID and client address as last
// published in the log.
func (n *Node) publishedLeader() (id, clientAddr string) {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	return n.leaderID, n.leaderClient
}

// adoptLeader takes a published leader: from the log always, from a
// snapshot always after an install, otherwise only while none is known.
func (n *Node) adoptLeader(id, clientAddr string, always bool) {
	n.leaderMu.Lock()
	defer n.leaderMu.Unlock()
	if always || n.leaderID == "" {
		n.leaderID, n.leaderClient = id, clientAddr
	}
}
