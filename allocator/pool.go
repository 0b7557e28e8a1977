package allocator

import (
	"math"
	"sync/atomic"
	"time"
)

// A Pool is a set of tracking numbers bought for one purpose, and the live
// visits holding them.
//
// Each active number sits on a line (0..MaxPoolSize-1). A line's holder and
// the holder's last heartbeat live in small arrays inside the pool, so the
// hot paths (touch, recycle, expiry) read a few cache lines, not one object
// per visit. Fields that readers see are atomics or immutable; the rest is
// touched only by the apply path.
type Pool struct {
	// Hot fields first: Assign and Touch find what they need in the first
	// cache lines.
	Key  string // public key, used by the snippet
	view atomic.Pointer[poolView]

	active atomic.Int32 // numbers on lines
	held   atomic.Int32 // lines with a holder

	free freeList // apply path only

	seen    [MaxPoolSize]atomic.Int64           // holder's last heartbeat, ms; noHolder when free
	holders [MaxPoolSize]atomic.Pointer[Visit]  // nil: number free
	numbers [MaxPoolSize]atomic.Pointer[Number] // nil: line empty

	ID        string // server-chosen id, used by the admin API
	CreatedAt time.Time
	seq       uint64 // creation order

	all appendLog[Number] // every number the pool ever had, in the order added

	releasing  atomic.Int32 // numbers waiting to be released at the provider
	numberless atomic.Int32 // live visits without a number

	use usage // traffic by hour, for the pool-size advisor (usage.go)

	// The budget of new visits (budget.go): how much was spent as of when.
	// Written by the apply path, read by WithinBudget.
	budgetSpent atomic.Int64
	budgetAt    atomic.Int64

	// Apply path only.
	expiryDue  int64  // when Expire should look at the pool next, or notScheduled
	nlHead     *Visit // live visits without a number, oldest first
	nlTail     *Visit
	recentReqs [4]RequestID // last update requests, for idempotency
	nextReq    int
}

// noHolder marks a line's seen time when the line has no holder. It is
// larger than any time, so a scan for the oldest holder skips free lines.
const noHolder = math.MaxInt64

// poolView is the part of a pool that changes on update, replaced as a whole
// so a reader always sees one consistent version.
type poolView struct {
	settings  Settings
	updatedAt int64
	deletedAt int64 // 0 while not deleted
	notice    string
	history   []SizeChange // never changed: a change makes a new slice
}

// PoolStatus is where a pool is in its life.
type PoolStatus string

const (
	// PoolProvisioning: fewer active numbers than its size.
	PoolProvisioning PoolStatus = "provisioning"
	// PoolActive: as many active numbers as its size.
	PoolActive PoolStatus = "active"
	// PoolDeleting: deleted, with numbers still to release at the provider.
	PoolDeleting PoolStatus = "deleting"
	// PoolDeleted: deleted, every number released; history stays readable.
	PoolDeleted PoolStatus = "deleted"
)

// Settings returns the pool's current settings. The ForwardTo and
// AllowedOrigins slices are shared and must not be changed.
func (p *Pool) Settings() Settings { return p.view.Load().settings }

// UpdatedAt is when the settings last changed.
func (p *Pool) UpdatedAt() time.Time { return fromMillis(p.view.Load().updatedAt) }

// DeletedAt is when the pool was deleted, or the zero time.
func (p *Pool) DeletedAt() time.Time {
	if d := p.view.Load().deletedAt; d != 0 {
		return fromMillis(d)
	}
	return time.Time{}
}

// Notice is what the provisioner last had to say about the pool, such as
// "no numbers left in area code 415; bought near +14155550100", or "".
func (p *Pool) Notice() string { return p.view.Load().notice }

// Deleted reports whether the pool was deleted.
func (p *Pool) Deleted() bool { return p.view.Load().deletedAt != 0 }

// Status says whether the pool is being provisioned, active or deleted.
func (p *Pool) Status() PoolStatus {
	v := p.view.Load()
	switch {
	case v.deletedAt != 0 && p.releasing.Load() > 0:
		return PoolDeleting
	case v.deletedAt != 0:
		return PoolDeleted
	case int(p.active.Load()) < v.settings.Size:
		return PoolProvisioning
	}
	return PoolActive
}

// Counts reports how many numbers and visits the pool has right now.
type Counts struct {
	Active     int // numbers in service
	Free       int // numbers in service with no holder
	Releasing  int // numbers waiting to be released at the provider
	Live       int // live visits, with or without a number
	Numberless int // live visits that lost their number and wait for one
}

// Counts returns the pool's counters.
func (p *Pool) Counts() Counts {
	active, held, nl := int(p.active.Load()), int(p.held.Load()), int(p.numberless.Load())
	return Counts{
		Active:     active,
		Free:       active - held,
		Releasing:  int(p.releasing.Load()),
		Live:       held + nl,
		Numberless: nl,
	}
}

// Numbers lists every number the pool ever had, in the order they were
// added, released ones included.
func (p *Pool) Numbers() []*Number {
	var out []*Number
	p.all.each(func(n *Number) bool { out = append(out, n); return true })
	return out
}

// Holders lists the pool's live visits that hold a number, by line.
func (p *Pool) Holders() []*Visit {
	var out []*Visit
	for i := range p.holders {
		if v := p.holders[i].Load(); v != nil {
			out = append(out, v)
		}
	}
	return out
}

func (p *Pool) idleMillis() int64 {
	return int64(p.view.Load().settings.IdleTimeout / time.Millisecond)
}

// freeLine is the free line a new holder takes, or none: the front of the
// free list, or under AllocateRandom the one the request's hash picks.
func (p *Pool) freeLine(a Allocation, hash uint64) int8 {
	line := p.free.head
	if a == AllocateRandom && p.free.n > 1 {
		for k := hash % uint64(p.free.n); k > 0; k-- {
			line = p.free.next[line]
		}
	}
	return line
}

// freeList is the pool's LRU list of free lines: numbers released go to the
// back, assignment takes from the front, so the number free the longest is
// reused first and a late caller most likely still reaches the right visit.
type freeList struct {
	head, tail int8
	fresh      int8 // last of the never-held lines at the front, or none
	n          int8
	prev, next [MaxPoolSize]int8
	in         [MaxPoolSize]bool
}

const none int8 = -1

func (f *freeList) init() { f.head, f.tail, f.fresh = none, none, none }

func (f *freeList) pushBack(i int8) {
	f.prev[i], f.next[i] = f.tail, none
	if f.tail != none {
		f.next[f.tail] = i
	} else {
		f.head = i
	}
	f.tail = i
	f.in[i] = true
	f.n++
}

// pushFresh adds a line whose number nobody has held yet. Such a number is
// the safest to hand out, since no late caller can be looking for an earlier
// holder, so it goes to the front, behind the other never-held ones.
func (f *freeList) pushFresh(i int8) {
	after := f.fresh
	f.fresh = i
	f.in[i] = true
	f.n++
	if after == none {
		f.prev[i], f.next[i] = none, f.head
		if f.head != none {
			f.prev[f.head] = i
		} else {
			f.tail = i
		}
		f.head = i
		return
	}
	f.prev[i], f.next[i] = after, f.next[after]
	if f.next[after] != none {
		f.prev[f.next[after]] = i
	} else {
		f.tail = i
	}
	f.next[after] = i
}

func (f *freeList) remove(i int8) {
	p, n := f.prev[i], f.next[i]
	if f.fresh == i {
		f.fresh = p
	}
	if p != none {
		f.next[p] = n
	} else {
		f.head = n
	}
	if n != none {
		f.prev[n] = p
	} else {
		f.tail = p
	}
	f.in[i] = false
	f.n--
}

// order lists the free lines front to back.
func (f *freeList) order() []int8 {
	out := make([]int8, 0, f.n)
	for i := f.head; i != none; i = f.next[i] {
		out = append(out, i)
	}
	return out
}
