package allocator

import (
	"hash/maphash"
	"sync/atomic"
)

// table is an open-addressing hash table with linear probing, written by one
// goroutine (the state machine's apply) and read by any number of goroutines
// without locks.
//
// Readers never block the writer and the writer never waits for readers.
// Every slot is a pair of atomics; growing builds a new slot array and
// publishes it with one atomic store. Deleting shifts later entries of the
// probe chain back (so no tombstones pile up and no periodic rebuild is
// needed); a reader that raced with such a shift may miss an entry that was
// there all along, so a reader that finds nothing checks the table's
// sequence number, which the writer bumps around every delete, and looks
// again if it moved. A reader always checks the key of what it finds, so it
// never returns the wrong entry.
type table[K comparable, V any] struct {
	slots atomic.Pointer[slotArray[V]]
	seq   atomic.Uint64 // odd while a delete is shifting entries
	hash  func(K) uint64
	keyOf func(*V) K
	live  int // entries present (writer only)
}

type slotArray[V any] struct {
	mask  uint64
	slots []slot[V]
}

// A slot is empty (tag 0, val nil) or live (tag and val set).
type slot[V any] struct {
	tag atomic.Uint64
	val atomic.Pointer[V]
}

const minTableSize = 16

func newTable[K comparable, V any](hash func(K) uint64, keyOf func(*V) K) *table[K, V] {
	t := &table[K, V]{hash: hash, keyOf: keyOf}
	t.slots.Store(newSlotArray[V](minTableSize))
	return t
}

func newSlotArray[V any](size int) *slotArray[V] {
	return &slotArray[V]{mask: uint64(size - 1), slots: make([]slot[V], size)}
}

// tagOf never returns 0, which marks an empty slot, and keeps the low bits
// of the hash, so a slot's tag tells where its entry's probe chain starts.
func tagOf(h uint64) uint64 { return h | 1<<63 }

// get returns the entry with the given key, or nil. Safe for any goroutine.
func (t *table[K, V]) get(k K) *V {
	h := t.hash(k)
	for {
		seq := t.seq.Load()
		if v := t.probe(t.slots.Load(), k, h); v != nil {
			return v
		}
		if seq&1 == 0 && t.seq.Load() == seq {
			return nil
		}
	}
}

func (t *table[K, V]) probe(a *slotArray[V], k K, h uint64) *V {
	tag := tagOf(h)
	for i := h & a.mask; ; i = (i + 1) & a.mask {
		s := &a.slots[i]
		st := s.tag.Load()
		if st == 0 {
			return nil
		}
		if st == tag {
			if v := s.val.Load(); v != nil && t.keyOf(v) == k {
				return v
			}
		}
	}
}

// getMany sets out[i] to the entry with key keys[i], or nil. It looks at the
// home slot of every key before following any of them, so that the cache
// misses of different keys overlap instead of coming one after another; a
// key not in its home slot takes the ordinary path. Safe for any goroutine.
func (t *table[K, V]) getMany(keys []K, out []*V) {
	a := t.slots.Load()
	for i, k := range keys {
		h := t.hash(k)
		s := &a.slots[h&a.mask]
		out[i] = nil
		if s.tag.Load() == tagOf(h) {
			out[i] = s.val.Load()
		}
	}
	for i, k := range keys {
		if v := out[i]; v == nil || t.keyOf(v) != k {
			out[i] = t.get(k)
		}
	}
}

// put inserts v, or replaces the entry with the same key. Writer only.
func (t *table[K, V]) put(v *V) {
	k := t.keyOf(v)
	h := t.hash(k)
	tag := tagOf(h)
	a := t.slots.Load()
	for i := h & a.mask; ; i = (i + 1) & a.mask {
		s := &a.slots[i]
		st := s.tag.Load()
		if st == 0 {
			// The value goes in before the tag: a reader that sees the new
			// tag finds a value whose key it checks anyway.
			s.val.Store(v)
			s.tag.Store(tag)
			t.live++
			if t.live*2 > len(a.slots) {
				t.grow(a)
			}
			return
		}
		if st == tag && t.keyOf(s.val.Load()) == k {
			s.val.Store(v)
			return
		}
	}
}

// del removes the entry with the given key, if any, and closes the gap by
// moving back the entries after it that probed past it. Writer only.
func (t *table[K, V]) del(k K) {
	h := t.hash(k)
	tag := tagOf(h)
	a := t.slots.Load()
	i := h & a.mask
	for ; ; i = (i + 1) & a.mask {
		st := a.slots[i].tag.Load()
		if st == 0 {
			return
		}
		if st == tag && t.keyOf(a.slots[i].val.Load()) == k {
			break
		}
	}
	t.seq.Add(1)
	gap := i
	for j := (gap + 1) & a.mask; ; j = (j + 1) & a.mask {
		s := &a.slots[j]
		st := s.tag.Load()
		if st == 0 {
			break
		}
		// An entry may fill the gap if its home slot is not between the
		// gap (exclusive) and where it sits (inclusive).
		if home := st & a.mask; (j-home)&a.mask >= (j-gap)&a.mask {
			a.slots[gap].val.Store(s.val.Load())
			a.slots[gap].tag.Store(st)
			gap = j
		}
	}
	a.slots[gap].tag.Store(0)
	a.slots[gap].val.Store(nil)
	t.seq.Add(1)
	t.live--
}

// grow moves every entry into a slot array twice the size.
func (t *table[K, V]) grow(a *slotArray[V]) {
	b := newSlotArray[V](2 * len(a.slots))
	for i := range a.slots {
		v := a.slots[i].val.Load()
		if v == nil {
			continue
		}
		tag := a.slots[i].tag.Load()
		j := tag & b.mask
		for b.slots[j].tag.Load() != 0 {
			j = (j + 1) & b.mask
		}
		b.slots[j].val.Store(v)
		b.slots[j].tag.Store(tag)
	}
	t.slots.Store(b)
}

// len is the number of entries. Writer only.
func (t *table[K, V]) len() int { return t.live }

var stringSeed = maphash.MakeSeed()

// hashString spreads string keys. The seed differs between processes, which
// is harmless: no state depends on where an entry sits in a table.
func hashString(s string) uint64 { return maphash.String(stringSeed, s) }
