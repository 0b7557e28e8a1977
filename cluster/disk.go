package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// A node keeps two bolt files: its Raft log (raft/raft.db) and its outbox
// (outbox.db). Bolt trusts its file: a damaged one makes it panic, in
// goroutines of its own or on a memory fault, and Raft panics on a log
// entry it cannot read. So each file is checked before bolt opens it, and
// opened with panics recovered, and the log's entries are all read once:
// a damaged file is a *CorruptFileError, which the operator's guide says
// how to recover from, never a crash.

// A CorruptFileError says that a file in the node's data dir is not what
// the node wrote there: a bad disk, or a file changed by hand.
type CorruptFileError struct {
	Path string
	Err  error
}

func (e *CorruptFileError) Error() string { return fmt.Sprintf("%s is corrupt: %v", e.Path, e.Err) }

func (e *CorruptFileError) Unwrap() error { return e.Err }

// openLog opens the node's Raft log and stable store, a bolt file, after
// checking it whole.
func openLog(path string, opts *bbolt.Options) (*raftboltdb.BoltStore, error) {
	if err := checkBolt(path); err != nil {
		return nil, err
	}
	var store *raftboltdb.BoltStore
	err := recovering(path, func() (err error) {
		if store, err = raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: opts}); err != nil {
			return boltError(path, err)
		}
		if err := readLog(store); err != nil {
			return &CorruptFileError{Path: path, Err: err}
		}
		return nil
	})
	if err != nil {
		if store != nil {
			store.Close()
		}
		return nil, err
	}
	return store, nil
}

// readLog reads every entry of the log, and the terms Raft keeps beside
// it: Raft panics on one it cannot read, and reads them only when it needs
// them, long after the start.
func readLog(store *raftboltdb.BoltStore) error {
	for _, key := range []string{"CurrentTerm", "LastVoteTerm"} {
		if _, err := store.GetUint64([]byte(key)); err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
			return fmt.Errorf("read %s: %w", key, err)
		}
	}
	first, err := store.FirstIndex()
	if err != nil {
		return err
	}
	last, err := store.LastIndex()
	if err != nil || first == 0 {
		return err
	}
	var l raft.Log
	for i := first; i <= last; i++ {
		if err := store.GetLog(i, &l); err != nil {
			return fmt.Errorf("log entry %d of %d to %d: %w", i, first, last, err)
		}
		if l.Index != i {
			return fmt.Errorf("log entry %d says it is entry %d", i, l.Index)
		}
	}
	return nil
}

// openBolt opens a bolt file of the node's, after checking it whole.
func openBolt(path string, opts *bbolt.Options) (*bbolt.DB, error) {
	if err := checkBolt(path); err != nil {
		return nil, err
	}
	var db *bbolt.DB
	err := recovering(path, func() (err error) {
		db, err = bbolt.Open(path, 0o600, opts)
		return boltError(path, err)
	})
	if err != nil {
		if db != nil {
			db.Close()
		}
		return nil, err
	}
	return db, nil
}

// boltError turns bolt's own word for a damaged file into a
// *CorruptFileError.
func boltError(path string, err error) error {
	if errors.Is(err, bbolt.ErrInvalid) || errors.Is(err, bbolt.ErrChecksum) || errors.Is(err, bbolt.ErrVersionMismatch) {
		return &CorruptFileError{Path: path, Err: err}
	}
	return err
}

// recovering runs f, which reads the bolt file at path, and turns a panic
// in it, or a memory fault reading the file, into a *CorruptFileError.
func recovering(path string, f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = &CorruptFileError{Path: path, Err: fmt.Errorf("bolt failed reading it: %v", p)}
		}
	}()
	return f()
}

// The bolt file format (go.etcd.io/bbolt, version 2): pages of pageSize
// bytes, each with a 16-byte header; two meta pages first, of which the
// valid one with the higher transaction id is current; a B+tree of branch
// and leaf pages from the root bucket, buckets nested in leaf values,
// small ones inline; the free list on a page of its own or, without
// freelist sync, rebuilt from what the tree does not reach.
const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderSize  = 16 // id uint64, flags uint16, count uint16, overflow uint32
	elementSize     = 16 // branch: pos, ksize uint32, child pgid uint64; leaf: flags, pos, ksize, vsize uint32
	bucketHeader    = 16 // root pgid uint64 (0: inline), sequence uint64
	metaChecksumAt  = 56 // offset of the checksum in the meta, which covers what precedes it
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	freelistFlag    = 0x10
	bucketLeafFlag  = 0x01
	noFreelist      = ^uint64(0)
	freelistOverrun = 0xFFFF // a free list's count in its first id
)

// checkBolt checks that a bolt file is whole, reading it as bolt would but
// trusting nothing in it: every page the tree reaches lies within the file
// and below the high-water mark, is reached once, is a branch or leaf page
// that says it is the page it is, and holds its elements, keys and values
// within its bytes; the free list names only pages the tree does not
// reach. A file that passes cannot make bolt read outside it or panic on
// a page's type. A missing or empty file passes: bolt creates it.
func checkBolt(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.Size() == 0 {
		return err
	}
	c := boltChecker{f: f, size: info.Size(), reached: map[uint64]bool{}}
	if err := c.check(); err != nil {
		var read readError
		if errors.As(err, &read) {
			return read.err
		}
		return &CorruptFileError{Path: path, Err: err}
	}
	return nil
}

// readError is a failure to read the file, as opposed to what was read
// being wrong.
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }

type boltChecker struct {
	f        *os.File
	size     int64
	pageSize uint64
	hwm      uint64 // the high-water mark: every page id is below it
	reached  map[uint64]bool
}

var ne = binary.NativeEndian // bolt writes its structures as the machine lays them out

func (c *boltChecker) check() error {
	m, err := c.meta()
	if err != nil {
		return err
	}
	// Pages past the end of the file are harmless until reached: page
	// checks the ones the tree reaches against the file's size.
	if c.hwm = ne.Uint64(m[40:]); c.hwm < 3 {
		return fmt.Errorf("its high-water mark, page %d, leaves no room for the root", c.hwm)
	}
	c.reached[0], c.reached[1] = true, true
	var freed []uint64
	if fl := ne.Uint64(m[32:]); fl != noFreelist {
		if freed, err = c.freelist(fl); err != nil {
			return err
		}
	}
	if err := c.bucket(m[16:32], "the root bucket"); err != nil {
		return err
	}
	seen := make(map[uint64]bool, len(freed))
	for _, id := range freed {
		switch {
		case id < 2 || id >= c.hwm:
			return fmt.Errorf("the free list names page %d, outside pages 2 to %d", id, c.hwm-1)
		case seen[id]:
			return fmt.Errorf("the free list names page %d twice", id)
		case c.reached[id]:
			return fmt.Errorf("page %d is both free and in use", id)
		}
		seen[id] = true
	}
	return nil
}

// meta returns the current meta (the bytes after the page header), chosen
// as bolt chooses it, and settles the page size.
func (c *boltChecker) meta() ([]byte, error) {
	var first [4096]byte
	if _, err := c.f.ReadAt(first[:], 0); err != nil {
		return nil, fmt.Errorf("it is %d bytes, too short for bolt's meta pages", c.size)
	}
	m0 := first[pageHeaderSize:]
	err0 := validMeta(m0)
	c.pageSize = uint64(os.Getpagesize())
	if err0 == nil {
		c.pageSize = uint64(ne.Uint32(m0[8:]))
	}
	if c.pageSize < 1024 || c.pageSize&(c.pageSize-1) != 0 {
		return nil, fmt.Errorf("its page size %d is not one bolt writes", c.pageSize)
	}
	page1, err := c.read(c.pageSize, c.pageSize)
	if err != nil {
		return nil, fmt.Errorf("it is %d bytes, too short for bolt's meta pages", c.size)
	}
	m1 := page1[pageHeaderSize:]
	err1 := validMeta(m1)
	a, b, errA, errB := m0, m1, err0, err1
	if ne.Uint64(m1[48:]) > ne.Uint64(m0[48:]) {
		a, b, errA, errB = m1, m0, err1, err0
	}
	switch {
	case errA == nil:
		return a, nil
	case errB == nil:
		return b, nil
	}
	return nil, fmt.Errorf("neither meta page is valid (page 0: %v; page 1: %v)", err0, err1)
}

func validMeta(m []byte) error {
	h := fnv.New64a()
	h.Write(m[:metaChecksumAt])
	switch sum := ne.Uint64(m[metaChecksumAt:]); {
	case ne.Uint32(m) != boltMagic:
		return errors.New("not a bolt meta page")
	case ne.Uint32(m[4:]) != boltVersion:
		return fmt.Errorf("bolt version %d", ne.Uint32(m[4:]))
	case sum != 0 && sum != h.Sum64():
		return errors.New("checksum mismatch")
	}
	return nil
}

// read reads n bytes at off, which must lie within the file.
func (c *boltChecker) read(off, n uint64) ([]byte, error) {
	if off > uint64(c.size) || n > uint64(c.size)-off {
		return nil, fmt.Errorf("bytes %d to %d are past its end (%d bytes)", off, off+n, c.size)
	}
	b := make([]byte, n)
	if _, err := c.f.ReadAt(b, int64(off)); err != nil && !errors.Is(err, io.EOF) {
		return nil, readError{err}
	}
	return b, nil
}

// page reads page id, with its overflow, and marks it reached.
func (c *boltChecker) page(id uint64, what string) ([]byte, error) {
	if id < 2 || id >= c.hwm {
		return nil, fmt.Errorf("%s is on page %d, outside pages 2 to %d", what, id, c.hwm-1)
	}
	head, err := c.read(id*c.pageSize, pageHeaderSize)
	if err != nil {
		return nil, fmt.Errorf("%s, page %d: %w", what, id, err)
	}
	if got := ne.Uint64(head); got != id {
		return nil, fmt.Errorf("%s: page %d says it is page %d", what, id, got)
	}
	overflow := uint64(ne.Uint32(head[12:]))
	if overflow >= c.hwm-id {
		return nil, fmt.Errorf("%s: page %d runs %d pages past the high-water mark", what, id, overflow)
	}
	for p := id; p <= id+overflow; p++ {
		if c.reached[p] {
			return nil, fmt.Errorf("%s: page %d is reached twice", what, p)
		}
		c.reached[p] = true
	}
	b, err := c.read(id*c.pageSize, (overflow+1)*c.pageSize)
	if err != nil {
		return nil, fmt.Errorf("%s, page %d: %w", what, id, err)
	}
	return b, nil
}

func (c *boltChecker) freelist(id uint64) ([]uint64, error) {
	p, err := c.page(id, "the free list")
	if err != nil {
		return nil, err
	}
	if flags := ne.Uint16(p[8:]); flags&freelistFlag == 0 {
		return nil, fmt.Errorf("the free list's page %d is not a free-list page (flags %#x)", id, flags)
	}
	body := p[pageHeaderSize:]
	count := uint64(ne.Uint16(p[10:]))
	if count == freelistOverrun {
		count = ne.Uint64(body)
		body = body[8:]
	}
	if count > uint64(len(body))/8 {
		return nil, fmt.Errorf("the free list's page %d claims %d ids", id, count)
	}
	ids := make([]uint64, count)
	for i := range ids {
		ids[i] = ne.Uint64(body[8*i:])
	}
	return ids, nil
}

// bucket checks a bucket from its 16-byte header and, for an inline
// bucket, the page that follows it in value.
func (c *boltChecker) bucket(value []byte, what string) error {
	if len(value) < bucketHeader {
		return fmt.Errorf("%s: a bucket value of %d bytes", what, len(value))
	}
	if root := ne.Uint64(value); root != 0 {
		return c.node(root, what)
	}
	inline := value[bucketHeader:]
	if len(inline) < pageHeaderSize {
		return fmt.Errorf("%s: an inline bucket of %d bytes", what, len(inline))
	}
	if flags := ne.Uint16(inline[8:]); flags&leafPageFlag == 0 {
		return fmt.Errorf("%s: an inline bucket that is not a leaf (flags %#x)", what, flags)
	}
	return c.elements(inline, leafPageFlag, what)
}

// node checks the tree below page id.
func (c *boltChecker) node(id uint64, what string) error {
	p, err := c.page(id, what)
	if err != nil {
		return err
	}
	flags := ne.Uint16(p[8:])
	if flags != branchPageFlag && flags != leafPageFlag {
		return fmt.Errorf("%s: page %d is not a branch or leaf page (flags %#x)", what, id, flags)
	}
	return c.elements(p, flags, fmt.Sprintf("%s, page %d", what, id))
}

// elements checks the elements of a branch or leaf page p, and what they
// lead to.
func (c *boltChecker) elements(p []byte, flags uint16, what string) error {
	count := int(ne.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return fmt.Errorf("%s: %d elements do not fit in %d bytes", what, count, len(p))
	}
	if flags == branchPageFlag && count == 0 {
		return fmt.Errorf("%s: a branch with no children", what)
	}
	for i := range count {
		at := pageHeaderSize + i*elementSize
		e := p[at : at+elementSize]
		if flags == branchPageFlag {
			pos, ksize, child := uint64(ne.Uint32(e)), uint64(ne.Uint32(e[4:])), ne.Uint64(e[8:])
			if uint64(at)+pos+ksize > uint64(len(p)) {
				return fmt.Errorf("%s: element %d's key lies past the page", what, i)
			}
			if err := c.node(child, what); err != nil {
				return err
			}
			continue
		}
		leafFlags, pos, ksize, vsize := ne.Uint32(e), uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
		start := uint64(at) + pos
		if start+ksize+vsize > uint64(len(p)) {
			return fmt.Errorf("%s: element %d's key and value lie past the page", what, i)
		}
		if leafFlags&bucketLeafFlag != 0 {
			name := p[start : start+ksize]
			if err := c.bucket(p[start+ksize:start+ksize+vsize], fmt.Sprintf("bucket %q", name)); err != nil {
				return err
			}
		}
	}
	return nil
}
