// Package backupfmt reads and writes EpochDB's logical backup files. It knows
// nothing about Pebble or the DB: it turns a stream of records into a
// checksummed, compressed file and back, and rejects any file that is not
// exactly what a Writer produced. See docs/BACKUP.md for the layout as a
// table.
//
// A file is a header, a sequence of blocks and a trailer:
//
//	header   magic "EPOCHBAK" ‖ version u16 ‖ compression u8 ‖ reserved u8 ‖
//	         created-at i64 (Unix ms) ‖ source format u32 ‖ crc32c u32     (28 bytes)
//	block    'B' ‖ payload length u32 ‖ raw length u32 ‖ records u32 ‖
//	         crc32c u32 (of the 13 bytes before it and the payload) ‖ payload
//	trailer  'E' ‖ records u64 ‖ blocks u64 ‖ raw bytes u64 ‖
//	         xxhash64 u64 (of every byte before the trailer) ‖ crc32c u32 (41 bytes)
//
// Integers are big-endian. A payload is the zstd compression of raw bytes
// that hold whole records. From version 2 on each record starts with a
// tag: a key record is
//
//	type u8 (0 string, 1 hash, 2 set, 3 sorted set, 4 list) ‖ uvarint key length ‖ key ‖
//	uvarint value length ‖ value ‖
//	uvarint created-at ‖ uvarint updated-at ‖ uvarint expires-at ‖
//	uvarint frequency ‖ uvarint last-access ‖ heat (float64 bits, u64)
//
// (a collection's value is empty) and a member record, which belongs to
// the collection of the key record before it, is
//
//	0xff ‖ uvarint member length ‖ member ‖ uvarint value length ‖ value ‖
//	uvarint expires-at
//
// A store image (Header.Image, flag 0x01 in the header's reserved byte) is
// the same container holding entry records instead: the raw key-value
// pairs of every keyspace of the store, as a replica needs them (the
// cluster's raft snapshots),
//
//	0xfe ‖ uvarint key length ‖ key ‖ uvarint value length ‖ value
//
// with keys strictly ascending across the file. A reader that predates
// images refuses one (a non-zero reserved byte).
//
// A sorted set member's value is its score: the float64's IEEE 754 bits
// (8 bytes, not NaN). A list's members are its items in order, each member
// its position (8 bytes, as the store keys it). Version 4 added lists and
// version 3 sorted sets: a file of an earlier version holds none, and
// reads as before. Version 1 files (strings only) have key records without
// the type byte; they are read as before too. Times are in Unix ms
// (expires-at 0 = never) and
// heat is the decayed access count as of last-access. Keys are strictly
// ascending across the whole file, and the members of a collection
// strictly ascending after it; a collection has at least one member.
// Nothing may follow the trailer.
package backupfmt

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
)

// Version is the file format version this package writes. It reads
// versions 1 to 4.
const Version = 4

// tagMember starts a member record (version 2 on).
const tagMember = 0xff

// TypeEntry is the type of the records of a store image: a raw key-value
// pair of the store (Record.Key and Record.Value only).
const TypeEntry = 0xfe

// flagImage, in the header's reserved byte, marks a store image.
const flagImage = 0x01

// Record types of key records (version 2 on; TypeZSet version 3 on,
// TypeList version 4 on).
const (
	TypeString = 0
	TypeHash   = 1
	TypeSet    = 2
	TypeZSet   = 3
	TypeList   = 4
)

// maxType returns the largest record type format version v holds.
func maxType(v uint16) uint8 {
	switch {
	case v >= 4:
		return TypeList
	case v == 3:
		return TypeZSet
	case v == 2:
		return TypeSet
	}
	return TypeString
}

// checkMemberValue checks the value of a member of a collection of type
// typ: a sorted set member's is a score.
func checkMemberValue(typ uint8, value []byte) error {
	if typ != TypeZSet {
		return nil
	}
	if len(value) != 8 || math.IsNaN(math.Float64frombits(binary.BigEndian.Uint64(value))) {
		return fmt.Errorf("sorted set member with a %d-byte score %x", len(value), value)
	}
	return nil
}

// Magic starts every backup file.
const Magic = "EPOCHBAK"

// Compression codes stored in the header.
const (
	CompressionZstd = 1
)

// Sizes of the fixed parts of a file.
const (
	HeaderLen      = 8 + 2 + 1 + 1 + 8 + 4 + 4
	BlockHeaderLen = 1 + 4 + 4 + 4 + 4
	TrailerLen     = 1 + 8 + 8 + 8 + 8 + 4
)

// minRecordLen is the encoded size of the smallest record: a member
// record with an empty member and value (a key record is at least 16
// bytes: a one-byte key, an empty value, seven one-byte varints and the
// heat).
const minRecordLen = 4

// Block tags.
const (
	tagBlock   = 'B'
	tagTrailer = 'E'
)

// Limits a reader enforces before it allocates anything for a block.
const (
	// TargetBlockSize is the raw size at which a Writer closes a block. A
	// single record larger than this gets a block of its own.
	TargetBlockSize = 1 << 20
	// MaxKeyLen and MaxValueLen bound a record's key and value.
	MaxKeyLen   = 64 << 10
	MaxValueLen = 1 << 30
	// MaxEntryKeyLen and MaxEntryValueLen bound an entry record's key and
	// value: a store key holds a user key escaped, a version and a member;
	// a stored value holds a user value and its header.
	MaxEntryKeyLen   = 4 * MaxKeyLen
	MaxEntryValueLen = MaxValueLen + 1<<10
	// MaxRawBlock bounds a block's raw (uncompressed) size: one record of
	// the largest key and value plus its varints.
	MaxRawBlock = MaxEntryValueLen + MaxEntryKeyLen + 64
	// MaxPayload bounds a block's compressed size (zstd's worst case on
	// incompressible input is a little above the raw size).
	MaxPayload = MaxRawBlock + MaxRawBlock/128 + 1<<10
)

// Errors, wrapped by *Error with where the problem is.
var (
	// ErrNotBackup is returned when the input does not start with the magic
	// of a backup file.
	ErrNotBackup = errors.New("epochdb: not an epochdb backup file")
	// ErrVersion is returned when the file's format version or compression
	// is one this code does not read.
	ErrVersion = errors.New("epochdb: unsupported backup format")
	// ErrCorrupt is returned when the file is damaged: truncated, a checksum
	// mismatch, a malformed record, keys out of order, bytes after the end.
	ErrCorrupt = errors.New("epochdb: corrupt backup")
)

// Error says what is wrong with a backup file and where. It wraps one of
// ErrNotBackup, ErrVersion or ErrCorrupt (test with errors.Is).
type Error struct {
	Err    error  // ErrNotBackup, ErrVersion or ErrCorrupt
	Offset int64  // byte offset in the file of the part at fault
	Block  int64  // 0-based block index; -1 for the header and trailer
	Record int64  // 0-based record index in the file; -1 if not about a record
	Msg    string // what is wrong
}

func (e *Error) Error() string {
	where := fmt.Sprintf("at byte offset %d", e.Offset)
	if e.Block >= 0 {
		where += fmt.Sprintf(", block %d", e.Block)
	}
	if e.Record >= 0 {
		where += fmt.Sprintf(", record %d", e.Record)
	}
	return fmt.Sprintf("%v: %s: %s", e.Err, where, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Header is the first part of a file.
type Header struct {
	Version      uint16
	Compression  uint8
	CreatedAt    int64  // Unix ms of the snapshot the backup was taken from
	SourceFormat uint32 // the on-disk format version of the DB backed up
	// Image marks a store image: entry records (TypeEntry) of every
	// keyspace rather than keys with their metadata.
	Image bool
}

// Record is one key with its value and metadata, or one member of the
// collection whose key record came last (Member set: Key is the member,
// Value its value, ExpiresAt its deadline, the rest zero), or in a store
// image one raw pair of the store (Type TypeEntry: Key and Value only).
type Record struct {
	Member     bool
	Type       uint8 // of a key record: TypeString, TypeHash, TypeSet, TypeZSet, TypeList; TypeEntry in an image
	Key, Value []byte
	CreatedAt  int64 // Unix ms
	UpdatedAt  int64 // Unix ms
	ExpiresAt  int64 // Unix ms; 0 = never
	Frequency  uint64
	LastAccess int64   // Unix ms
	Heat       float64 // decayed access count as of LastAccess; finite, >= 0
}

// Trailer is the last part of a file.
type Trailer struct {
	Records  uint64
	Blocks   uint64
	RawBytes uint64 // records' encoded size before compression
	Sum      uint64 // xxhash64 of every byte before the trailer
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Writer writes a backup file to an io.Writer. Records must be added in
// strictly ascending key order. Full blocks are compressed and written by a
// goroutine of the Writer while the caller fills the next one, so encoding
// overlaps reading the database. Its memory is bounded by a few blocks (or
// the largest record), whatever the number of records. A Writer is not safe
// for concurrent use; Close must be called (it stops the goroutine).
type Writer struct {
	w       io.Writer
	enc     *zstd.Encoder
	sum     *xxhash.Digest
	raw     []byte // records of the open block
	nrec    uint32 // records in the open block
	lastKey []byte
	tr      Trailer

	version    uint16 // the format version written
	image      bool   // a store image: entry records only
	keys       int64  // key records added
	inColl     bool   // the last key record is a collection's
	collType   uint8  // its type
	members    int64  // members added since it
	lastMember []byte // the last of them

	// The compressing goroutine owns out, n and sum until done closes.
	jobs  chan []byte   // full blocks: raw length, record count, records; in order
	free  chan []byte   // job buffers to reuse
	done  chan struct{} // closed when the goroutine has exited
	out   []byte        // reused for block frames
	n     int64         // bytes written
	errMu sync.Mutex    // guards err
	err   error         // first write error; sticky
}

// writerQueue is how many full blocks may wait for compression.
const writerQueue = 2

// NewWriter writes h (Version and Compression are filled in) and returns a
// Writer for the records.
func NewWriter(w io.Writer, h Header) (*Writer, error) { return newWriter(w, h, Version) }

// newWriter is NewWriter writing format version (an older one for the
// tests of old files).
func newWriter(w io.Writer, h Header, version uint16) (*Writer, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("epochdb: backup: zstd: %w", err)
	}
	bw := &Writer{w: w, enc: enc, sum: xxhash.New(),
		jobs: make(chan []byte, writerQueue), free: make(chan []byte, writerQueue+1), done: make(chan struct{})}
	h.Version, h.Compression = version, CompressionZstd
	bw.version, bw.image = version, h.Image
	var flags byte
	if h.Image {
		flags = flagImage
	}
	hb := make([]byte, 0, HeaderLen)
	hb = append(hb, Magic...)
	hb = binary.BigEndian.AppendUint16(hb, h.Version)
	hb = append(hb, h.Compression, flags)
	hb = binary.BigEndian.AppendUint64(hb, uint64(h.CreatedAt))
	hb = binary.BigEndian.AppendUint32(hb, h.SourceFormat)
	hb = binary.BigEndian.AppendUint32(hb, crc32.Checksum(hb, castagnoli))
	if err := bw.write(hb); err != nil {
		enc.Close()
		return nil, err
	}
	go bw.compressLoop()
	return bw, nil
}

func (bw *Writer) failed() error {
	bw.errMu.Lock()
	defer bw.errMu.Unlock()
	return bw.err
}

// write writes p to the output. Only the compressing goroutine calls it
// (and NewWriter and Close, before it starts and after it exits).
func (bw *Writer) write(p []byte) error {
	if err := bw.failed(); err != nil {
		return err
	}
	n, err := bw.w.Write(p)
	bw.n += int64(n)
	_, _ = bw.sum.Write(p[:n])
	if err != nil {
		bw.errMu.Lock()
		bw.err = fmt.Errorf("epochdb: backup: write: %w", err)
		bw.errMu.Unlock()
	}
	return bw.failed()
}

// Add appends r. The writer copies what it needs; r may be reused.
func (bw *Writer) Add(r *Record) error {
	if err := bw.failed(); err != nil {
		return err
	}
	if bw.image || r.Type == TypeEntry {
		return bw.addEntry(r)
	}
	if (len(r.Key) == 0 && !r.Member) || len(r.Key) > MaxKeyLen || len(r.Value) > MaxValueLen || r.Type > maxType(bw.version) {
		return fmt.Errorf("epochdb: backup: record with a %d-byte key and a %d-byte value is outside the format's limits",
			len(r.Key), len(r.Value))
	}
	if r.Member {
		if !bw.inColl || (bw.members > 0 && bytes.Compare(r.Key, bw.lastMember) <= 0) || r.ExpiresAt < 0 {
			return fmt.Errorf("epochdb: backup: member %q out of place (members follow their collection, ascending)", r.Key)
		}
		if err := checkMemberValue(bw.collType, r.Value); err != nil {
			return fmt.Errorf("epochdb: backup: %v", err)
		}
		bw.lastMember = append(bw.lastMember[:0], r.Key...)
		bw.members++
		return bw.appendRaw(r)
	}
	if bw.inColl && bw.members == 0 {
		return fmt.Errorf("epochdb: backup: collection %q without members", bw.lastKey)
	}
	if bw.keys > 0 && bytes.Compare(r.Key, bw.lastKey) <= 0 {
		return fmt.Errorf("epochdb: backup: key %q added after %q: keys must ascend", r.Key, bw.lastKey)
	}
	if r.CreatedAt < 0 || r.UpdatedAt < 0 || r.ExpiresAt < 0 || r.LastAccess < 0 {
		return fmt.Errorf("epochdb: backup: key %q has a negative timestamp", r.Key)
	}
	if !validHeat(r.Heat) {
		return fmt.Errorf("epochdb: backup: key %q has heat %v", r.Key, r.Heat)
	}
	bw.inColl, bw.collType, bw.members = r.Type != TypeString, r.Type, 0
	bw.keys++
	bw.lastKey = append(bw.lastKey[:0], r.Key...)
	return bw.appendRaw(r)
}

// addEntry appends the entry record r to a store image.
func (bw *Writer) addEntry(r *Record) error {
	switch {
	case !bw.image || r.Type != TypeEntry || r.Member:
		return fmt.Errorf("epochdb: backup: entry records go in store images only, and only they")
	case len(r.Key) == 0 || len(r.Key) > MaxEntryKeyLen || len(r.Value) > MaxEntryValueLen:
		return fmt.Errorf("epochdb: backup: entry with a %d-byte key and a %d-byte value is outside the format's limits",
			len(r.Key), len(r.Value))
	case bw.keys > 0 && bytes.Compare(r.Key, bw.lastKey) <= 0:
		return fmt.Errorf("epochdb: backup: entry %q added after %q: keys must ascend", r.Key, bw.lastKey)
	}
	bw.keys++
	bw.lastKey = append(bw.lastKey[:0], r.Key...)
	return bw.appendRaw(r)
}

// appendRaw adds r's encoding to the open block.
func (bw *Writer) appendRaw(r *Record) error {
	recLen := 1 + 5*binary.MaxVarintLen64 + 2*binary.MaxVarintLen32 + 8 + len(r.Key) + len(r.Value)
	if len(bw.raw) > 0 && len(bw.raw)+recLen > TargetBlockSize {
		if err := bw.flush(); err != nil {
			return err
		}
	}
	if bw.version == 1 {
		if r.Member || r.Type != TypeString {
			return fmt.Errorf("epochdb: backup: format version 1 holds strings only")
		}
		n := len(bw.raw)
		bw.raw = AppendRecord(bw.raw, r)
		bw.raw = append(bw.raw[:n], bw.raw[n+1:]...) // no type byte
	} else {
		bw.raw = AppendRecord(bw.raw, r)
	}
	bw.nrec++
	bw.tr.Records++
	return nil
}

// AppendRecord appends the version 2 encoding of r to dst.
func AppendRecord(dst []byte, r *Record) []byte {
	if r.Type == TypeEntry && !r.Member {
		dst = append(dst, TypeEntry)
		dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
		dst = append(dst, r.Key...)
		dst = binary.AppendUvarint(dst, uint64(len(r.Value)))
		return append(dst, r.Value...)
	}
	if r.Member {
		dst = append(dst, tagMember)
		dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
		dst = append(dst, r.Key...)
		dst = binary.AppendUvarint(dst, uint64(len(r.Value)))
		dst = append(dst, r.Value...)
		return binary.AppendUvarint(dst, uint64(r.ExpiresAt))
	}
	dst = append(dst, r.Type)
	dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
	dst = append(dst, r.Key...)
	dst = binary.AppendUvarint(dst, uint64(len(r.Value)))
	dst = append(dst, r.Value...)
	dst = binary.AppendUvarint(dst, uint64(r.CreatedAt))
	dst = binary.AppendUvarint(dst, uint64(r.UpdatedAt))
	dst = binary.AppendUvarint(dst, uint64(r.ExpiresAt))
	dst = binary.AppendUvarint(dst, r.Frequency)
	dst = binary.AppendUvarint(dst, uint64(r.LastAccess))
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(r.Heat))
}

func validHeat(h float64) bool { return h >= 0 && !math.IsInf(h, 0) && !math.IsNaN(h) }

// flush hands the open block to the compressing goroutine and starts a new
// one.
func (bw *Writer) flush() error {
	if len(bw.raw) == 0 {
		return nil
	}
	var job []byte
	select {
	case job = <-bw.free:
	default:
	}
	job = binary.BigEndian.AppendUint32(job[:0], uint32(len(bw.raw)))
	job = binary.BigEndian.AppendUint32(job, bw.nrec)
	job = append(job, bw.raw...) // 8 bytes of header, then the records
	bw.tr.Blocks++
	bw.tr.RawBytes += uint64(len(bw.raw))
	bw.nrec = 0
	bw.raw = bw.raw[:0]
	if cap(bw.raw) > 4*TargetBlockSize {
		bw.raw = nil // do not keep a huge record's buffer
	}
	bw.jobs <- job
	return bw.failed()
}

// compressLoop compresses and writes the blocks flush hands it, in order.
func (bw *Writer) compressLoop() {
	defer close(bw.done)
	for job := range bw.jobs {
		rawLen, nrec, raw := job[:4], job[4:8], job[8:]
		out := bw.out[:0]
		out = append(out, tagBlock, 0, 0, 0, 0)
		out = append(out, rawLen...)
		out = append(out, nrec...)
		out = append(out, 0, 0, 0, 0) // crc, filled below
		out = bw.enc.EncodeAll(raw, out)
		payload := out[BlockHeaderLen:]
		binary.BigEndian.PutUint32(out[1:5], uint32(len(payload)))
		crc := crc32.Update(crc32.Checksum(out[:13], castagnoli), castagnoli, payload)
		binary.BigEndian.PutUint32(out[13:17], crc)
		_ = bw.write(out) // the error is sticky; Add and Close report it
		if cap(out) <= 4*TargetBlockSize {
			bw.out = out // keep ordinary buffers, drop one grown by a huge record
		}
		if cap(job) <= 4*TargetBlockSize {
			select {
			case bw.free <- job[:0]:
			default:
			}
		}
	}
}

// Close writes the last block and the trailer and returns the trailer. It
// does not close the underlying writer.
func (bw *Writer) Close() (Trailer, error) {
	defer bw.enc.Close()
	ferr := bw.flush()
	close(bw.jobs)
	<-bw.done
	if ferr != nil {
		return Trailer{}, ferr
	}
	if err := bw.failed(); err != nil {
		return Trailer{}, err
	}
	if bw.inColl && bw.members == 0 {
		return Trailer{}, fmt.Errorf("epochdb: backup: collection %q without members", bw.lastKey)
	}
	bw.tr.Sum = bw.sum.Sum64()
	tb := make([]byte, 0, TrailerLen)
	tb = append(tb, tagTrailer)
	tb = binary.BigEndian.AppendUint64(tb, bw.tr.Records)
	tb = binary.BigEndian.AppendUint64(tb, bw.tr.Blocks)
	tb = binary.BigEndian.AppendUint64(tb, bw.tr.RawBytes)
	tb = binary.BigEndian.AppendUint64(tb, bw.tr.Sum)
	tb = binary.BigEndian.AppendUint32(tb, crc32.Checksum(tb, castagnoli))
	if err := bw.write(tb); err != nil {
		return Trailer{}, err
	}
	return bw.tr, nil
}

// Written returns the number of bytes written; call it after Close.
func (bw *Writer) Written() int64 { return bw.n }

// Reader reads and verifies a backup file. Every block is checked before its
// records are returned, and the whole file (order of blocks, record count,
// end of input) is checked when Next returns io.EOF: only then is the file
// known to be complete. A Reader is not safe for concurrent use.
type Reader struct {
	r    *bufio.Reader
	dec  *zstd.Decoder
	sum  *xxhash.Digest
	off  int64 // offset of the next unread byte
	hdr  Header
	tr   Trailer
	done bool
	err  error

	payload []byte
	raw     []byte // records of the current block
	rawOff  int    // next record in raw
	left    uint32 // records left in the current block
	block   int64  // index of the current block
	blocks  int64  // blocks read
	blockAt int64  // file offset of the current block
	rec     Record
	recs    uint64 // records returned
	keys    int64  // key records returned
	inColl  bool   // the last key record is a collection's
	collTyp uint8  // its type
	members int64  // members returned since it
	lastMem []byte
	rawSum  uint64
	lastKey []byte
}

// NewReader reads and checks the header of a backup file.
func NewReader(r io.Reader) (*Reader, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxRawBlock),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("epochdb: backup: zstd: %w", err)
	}
	br := &Reader{r: bufio.NewReaderSize(r, 256<<10), dec: dec, sum: xxhash.New(), block: -1}
	var hb [HeaderLen]byte
	n, err := io.ReadFull(br.r, hb[:])
	br.consume(hb[:n])
	if n < len(Magic) || string(hb[:len(Magic)]) != Magic {
		dec.Close()
		msg := fmt.Sprintf("the file starts with %q, not the magic %q", hb[:min(n, len(Magic))], Magic)
		if n == 0 {
			msg = "the file is empty"
		}
		return nil, &Error{Err: ErrNotBackup, Offset: 0, Block: -1, Record: -1, Msg: msg}
	}
	if err != nil {
		dec.Close()
		return nil, br.errf(ErrCorrupt, int64(n), -1, "the file ends inside the %d-byte header (%d bytes read)", HeaderLen, n)
	}
	if want, got := binary.BigEndian.Uint32(hb[HeaderLen-4:]), crc32.Checksum(hb[:HeaderLen-4], castagnoli); want != got {
		dec.Close()
		return nil, br.errf(ErrCorrupt, 0, -1, "header checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	br.hdr = Header{
		Version:      binary.BigEndian.Uint16(hb[8:10]),
		Compression:  hb[10],
		CreatedAt:    int64(binary.BigEndian.Uint64(hb[12:20])),
		SourceFormat: binary.BigEndian.Uint32(hb[20:24]),
		Image:        hb[11] == flagImage,
	}
	if br.hdr.Version < 1 || br.hdr.Version > Version {
		dec.Close()
		return nil, br.errf(ErrVersion, 8, -1, "format version %d, this build reads versions 1 to %d", br.hdr.Version, Version)
	}
	if br.hdr.Compression != CompressionZstd || hb[11]&^flagImage != 0 || (br.hdr.Image && br.hdr.Version < 2) {
		dec.Close()
		return nil, br.errf(ErrVersion, 10, -1, "compression %d (flags %d), this build reads zstd (%d)", br.hdr.Compression, hb[11], CompressionZstd)
	}
	if br.hdr.CreatedAt < 0 {
		dec.Close()
		return nil, br.errf(ErrCorrupt, 12, -1, "negative creation time %d", br.hdr.CreatedAt)
	}
	return br, nil
}

func (br *Reader) consume(p []byte) {
	br.off += int64(len(p))
	_, _ = br.sum.Write(p)
}

func (br *Reader) errf(kind error, off int64, record int64, format string, args ...any) error {
	return &Error{Err: kind, Offset: off, Block: br.block, Record: record, Msg: fmt.Sprintf(format, args...)}
}

// Header returns the file's header.
func (br *Reader) Header() Header { return br.hdr }

// Trailer returns the file's trailer once Next has returned io.EOF.
func (br *Reader) Trailer() Trailer { return br.tr }

// Offset returns the number of bytes read so far.
func (br *Reader) Offset() int64 { return br.off }

// Close releases the reader's decoder. It does not close the input.
func (br *Reader) Close() { br.dec.Close() }

// Next returns the next record. Its slices are valid until the next call.
// At the end of a complete, verified file it returns io.EOF; on a damaged
// one an *Error (after which it keeps returning that error).
func (br *Reader) Next() (*Record, error) {
	if br.err != nil {
		return nil, br.err
	}
	if br.done {
		return nil, io.EOF
	}
	for br.left == 0 {
		if br.rawOff != len(br.raw) {
			br.err = br.errf(ErrCorrupt, br.blockAt, -1, "%d bytes after the block's last record", len(br.raw)-br.rawOff)
			return nil, br.err
		}
		if err := br.readBlock(); err != nil {
			br.err = err
			return nil, err
		}
		if br.done {
			return nil, io.EOF
		}
	}
	if err := br.decodeRecord(); err != nil {
		br.err = err
		return nil, err
	}
	br.left--
	br.recs++
	return &br.rec, nil
}

// readBlock reads the next block, or the trailer (setting done).
func (br *Reader) readBlock() error {
	at := br.off
	tag, err := br.r.ReadByte()
	if err == io.EOF {
		return br.errf(ErrCorrupt, at, -1, "the file ends after %d blocks without a trailer (truncated)", br.block+1)
	}
	if err != nil {
		return fmt.Errorf("epochdb: backup: read at byte offset %d: %w", at, err)
	}
	switch tag {
	case tagTrailer:
		br.block = -1
		return br.readTrailer(at)
	case tagBlock:
	default:
		br.block++
		return br.errf(ErrCorrupt, at, -1, "block tag 0x%02x, want 'B' (a block) or 'E' (the trailer)", tag)
	}
	br.block++
	br.blocks++
	br.blockAt = at
	var hb [BlockHeaderLen]byte
	hb[0] = tag
	if n, err := io.ReadFull(br.r, hb[1:]); err != nil {
		return br.readErr(at+1+int64(n), err, "block header")
	}
	payLen := binary.BigEndian.Uint32(hb[1:5])
	rawLen := binary.BigEndian.Uint32(hb[5:9])
	nrec := binary.BigEndian.Uint32(hb[9:13])
	stored := binary.BigEndian.Uint32(hb[13:17])
	if payLen > MaxPayload || rawLen > MaxRawBlock {
		return br.errf(ErrCorrupt, at, -1, "block of %d compressed / %d raw bytes exceeds the format's limits", payLen, rawLen)
	}
	if nrec == 0 || uint64(nrec) > uint64(rawLen)/minRecordLen {
		return br.errf(ErrCorrupt, at, -1, "block claims %d records in %d raw bytes", nrec, rawLen)
	}
	// Read the payload without trusting its length for the allocation: the
	// buffer grows only as bytes actually arrive.
	buf := bytes.NewBuffer(br.payload[:0])
	n, err := buf.ReadFrom(io.LimitReader(br.r, int64(payLen)))
	br.payload = buf.Bytes()
	if err != nil {
		return fmt.Errorf("epochdb: backup: read at byte offset %d: %w", at+BlockHeaderLen+n, err)
	}
	if n < int64(payLen) {
		br.consume(hb[:])
		br.consume(br.payload)
		return br.errf(ErrCorrupt, br.off, -1, "the file ends inside a block: %d of its %d payload bytes present (truncated)", n, payLen)
	}
	computed := crc32.Update(crc32.Checksum(hb[:13], castagnoli), castagnoli, br.payload)
	if computed != stored {
		return br.errf(ErrCorrupt, at, -1, "block checksum mismatch (stored %08x, computed %08x)", stored, computed)
	}
	br.consume(hb[:])
	br.consume(br.payload)
	if cap(br.raw) < int(rawLen) {
		br.raw = make([]byte, 0, rawLen)
	}
	raw, err := br.dec.DecodeAll(br.payload, br.raw[:0])
	if err != nil {
		return br.errf(ErrCorrupt, at+BlockHeaderLen, -1, "decompressing the block: %v", err)
	}
	if len(raw) != int(rawLen) {
		return br.errf(ErrCorrupt, at+BlockHeaderLen, -1, "block decompresses to %d bytes, its header says %d", len(raw), rawLen)
	}
	br.raw, br.rawOff, br.left = raw, 0, nrec
	br.rawSum += uint64(rawLen)
	if cap(br.payload) > 4*TargetBlockSize {
		br.payload = nil
	}
	return nil
}

func (br *Reader) readErr(off int64, err error, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return br.errf(ErrCorrupt, off, -1, "the file ends inside the %s (truncated)", what)
	}
	return fmt.Errorf("epochdb: backup: read at byte offset %d: %w", off, err)
}

func (br *Reader) readTrailer(at int64) error {
	sum := br.sum.Sum64() // every byte before the trailer
	var tb [TrailerLen]byte
	tb[0] = tagTrailer
	if n, err := io.ReadFull(br.r, tb[1:]); err != nil {
		return br.readErr(at+1+int64(n), err, "trailer")
	}
	if want, got := binary.BigEndian.Uint32(tb[TrailerLen-4:]), crc32.Checksum(tb[:TrailerLen-4], castagnoli); want != got {
		return br.errf(ErrCorrupt, at, -1, "trailer checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	br.consume(tb[:])
	if br.inColl && br.members == 0 {
		return br.errf(ErrCorrupt, at, -1, "collection %q without members", br.lastKey)
	}
	tr := Trailer{
		Records:  binary.BigEndian.Uint64(tb[1:9]),
		Blocks:   binary.BigEndian.Uint64(tb[9:17]),
		RawBytes: binary.BigEndian.Uint64(tb[17:25]),
		Sum:      binary.BigEndian.Uint64(tb[25:33]),
	}
	switch {
	case tr.Records != br.recs:
		return br.errf(ErrCorrupt, at, -1, "the trailer counts %d records, the file holds %d (records lost or added)", tr.Records, br.recs)
	case tr.Blocks != uint64(br.blockCount()):
		return br.errf(ErrCorrupt, at, -1, "the trailer counts %d blocks, the file holds %d", tr.Blocks, br.blockCount())
	case tr.RawBytes != br.rawSum:
		return br.errf(ErrCorrupt, at, -1, "the trailer counts %d raw bytes, the blocks hold %d", tr.RawBytes, br.rawSum)
	case tr.Sum != sum:
		return br.errf(ErrCorrupt, at, -1, "file checksum mismatch (stored %016x, computed %016x): blocks reordered or replaced", tr.Sum, sum)
	}
	// Nothing may follow.
	if _, err := br.r.ReadByte(); err != io.EOF {
		if err != nil {
			return fmt.Errorf("epochdb: backup: read at byte offset %d: %w", br.off, err)
		}
		return br.errf(ErrCorrupt, br.off, -1, "unexpected bytes after the trailer")
	}
	br.tr = tr
	br.done = true
	return nil
}

// blockCount counts the blocks read so far.
func (br *Reader) blockCount() int64 { return br.blocks }

// decodeRecord decodes the record at rawOff into br.rec.
func (br *Reader) decodeRecord() error {
	p := br.raw[br.rawOff:]
	recIdx := int64(br.recs)
	bad := func(format string, args ...any) error {
		return br.errf(ErrCorrupt, br.blockAt, recIdx, "record at raw offset %d of the block: "+format,
			append([]any{br.rawOff}, args...)...)
	}
	i := 0
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(p[i:])
		if n <= 0 {
			return 0, false
		}
		i += n
		return v, true
	}
	typ := uint8(TypeString)
	if br.hdr.Version >= 2 {
		if len(p) == 0 {
			return bad("empty record")
		}
		typ = p[0]
		i++
		if br.hdr.Image != (typ == TypeEntry) {
			if br.hdr.Image {
				return bad("record type %d in a store image (entries only)", typ)
			}
			return bad("an entry record in a backup (store images only)")
		}
		if typ == TypeEntry {
			return br.decodeEntry(p, i, bad)
		}
		if typ == tagMember {
			return br.decodeMember(p, i, bad)
		}
		if typ > maxType(br.hdr.Version) {
			return bad("record type %d in a version %d file", typ, br.hdr.Version)
		}
	}
	if br.inColl && br.members == 0 {
		return bad("collection %q without members", br.lastKey)
	}
	klen, ok := uv()
	if !ok || klen == 0 || klen > MaxKeyLen || klen > uint64(len(p)-i) {
		return bad("bad key length")
	}
	key := p[i : i+int(klen)]
	i += int(klen)
	vlen, ok := uv()
	if !ok || vlen > MaxValueLen || vlen > uint64(len(p)-i) {
		return bad("bad value length")
	}
	value := p[i : i+int(vlen)]
	i += int(vlen)
	var f [5]uint64
	for j := range f {
		if f[j], ok = uv(); !ok {
			return bad("truncated metadata")
		}
	}
	for _, j := range []int{0, 1, 2, 4} {
		if f[j] > 1<<62 {
			return bad("timestamp %d out of range", f[j])
		}
	}
	if len(p)-i < 8 {
		return bad("truncated heat")
	}
	heat := math.Float64frombits(binary.BigEndian.Uint64(p[i:]))
	i += 8
	if !validHeat(heat) {
		return bad("heat %v is not a finite, non-negative number", heat)
	}
	if br.recs > 0 && bytes.Compare(key, br.lastKey) <= 0 {
		return bad("key %q does not sort after the previous key %q", key, br.lastKey)
	}
	if typ != TypeString && len(value) != 0 {
		return bad("collection %q with a value", key)
	}
	br.lastKey = append(br.lastKey[:0], key...)
	br.keys++
	br.inColl, br.collTyp, br.members = typ != TypeString, typ, 0
	br.rec = Record{
		Type: typ,
		Key:  key, Value: value,
		CreatedAt: int64(f[0]), UpdatedAt: int64(f[1]), ExpiresAt: int64(f[2]),
		Frequency: f[3], LastAccess: int64(f[4]), Heat: heat,
	}
	br.rawOff += i
	return nil
}

// decodeMember decodes the member record at p[i:] (after its tag).
func (br *Reader) decodeMember(p []byte, i int, bad func(string, ...any) error) error {
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(p[i:])
		if n <= 0 {
			return 0, false
		}
		i += n
		return v, true
	}
	if !br.inColl {
		return bad("a member outside a collection")
	}
	mlen, ok := uv()
	if !ok || mlen > MaxKeyLen || mlen > uint64(len(p)-i) {
		return bad("bad member length")
	}
	m := p[i : i+int(mlen)]
	i += int(mlen)
	vlen, ok := uv()
	if !ok || vlen > MaxValueLen || vlen > uint64(len(p)-i) {
		return bad("bad value length")
	}
	value := p[i : i+int(vlen)]
	i += int(vlen)
	exp, ok := uv()
	if !ok || exp > 1<<62 {
		return bad("bad member deadline")
	}
	if br.members > 0 && bytes.Compare(m, br.lastMem) <= 0 {
		return bad("member %q does not sort after the previous member %q", m, br.lastMem)
	}
	if err := checkMemberValue(br.collTyp, value); err != nil {
		return bad("%v", err)
	}
	br.lastMem = append(br.lastMem[:0], m...)
	br.members++
	br.rec = Record{Member: true, Key: m, Value: value, ExpiresAt: int64(exp)}
	br.rawOff += i
	return nil
}

// decodeEntry decodes the entry record at p[i:] (after its tag).
func (br *Reader) decodeEntry(p []byte, i int, bad func(string, ...any) error) error {
	klen, n := binary.Uvarint(p[i:])
	if n <= 0 || klen == 0 || klen > MaxEntryKeyLen || klen > uint64(len(p)-i-n) {
		return bad("bad key length")
	}
	i += n
	key := p[i : i+int(klen)]
	i += int(klen)
	vlen, n := binary.Uvarint(p[i:])
	if n <= 0 || vlen > MaxEntryValueLen || vlen > uint64(len(p)-i-n) {
		return bad("bad value length")
	}
	i += n
	value := p[i : i+int(vlen)]
	i += int(vlen)
	if br.recs > 0 && bytes.Compare(key, br.lastKey) <= 0 {
		return bad("key %q does not sort after the previous key %q", key, br.lastKey)
	}
	br.lastKey = append(br.lastKey[:0], key...)
	br.keys++
	br.rec = Record{Type: TypeEntry, Key: key, Value: value}
	br.rawOff += i
	return nil
}

// Keys returns the number of key records read so far (members aside).
func (br *Reader) Keys() int64 { return br.keys }
