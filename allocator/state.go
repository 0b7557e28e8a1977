package allocator

import (
	"errors"
	"sync/atomic"
	"time"
)

// State is the whole in-memory domain: pools, numbers, visits and calls.
//
// Write methods (CreatePool, Assign, Touch, Expire, ...) must be called by
// one goroutine at a time: the state machine's apply. They take the time as
// an argument, draw no random numbers and never depend on map order, so
// every replica fed the same commands reaches the same state.
//
// Read methods (Pool, Visit, Number, MatchCall, ...) may be called from any
// goroutine at any time, beside the writer, and take no lock: what they
// return is built from atomics and immutable values.
type State struct {
	pools    *table[string, Pool] // by ID
	poolKeys *table[string, Pool] // by Key
	poolLog  appendLog[Pool]      // creation order
	visits   *table[VisitID, Visit]
	numbers  *table[string, Number] // by E.164: the newest Number of each
	calls    *table[string, callEntry]
	callLog  appendLog[callEntry]
	matched  [len(matchKinds)]atomic.Int64 // recorded calls by match kind
	spend    spendBook
	hooks    webhooks
	// marketing is nil until set: DefaultMarketing.
	marketing atomic.Pointer[Marketing]
	// voicemail is the cluster's default voicemail, nil until set.
	voicemail atomic.Pointer[Voicemail]

	// Apply path only.
	expiry    expiryHeap
	poolSeq   uint64
	visitSeq  uint64
	numberSeq uint64
	callers   map[string]int // calls recorded per caller number
}

// Errors the write methods return; callers branch on them with errors.Is.
var (
	ErrUnknownPool    = errors.New("no such pool")
	ErrPoolDeleted    = errors.New("pool is deleted")
	ErrPoolExists     = errors.New("a pool with this id already exists")
	ErrKeyInUse       = errors.New("another pool has this key")
	ErrPoolFull       = errors.New("pool already has the most numbers a pool can have")
	ErrUnknownNumber  = errors.New("no such number")
	ErrNumberInUse    = errors.New("number belongs to another pool")
	ErrUnknownVisit   = errors.New("no such live visit")
	ErrVisitElsewhere = errors.New("visit belongs to another pool")
	ErrNotGoogleClick = errors.New("the pool tracks Google Ads clicks only, and the visit has no valid Google click id")
	ErrBadTime        = errors.New("time must be between 1970 and 9999")
	ErrBadCall        = errors.New("call sid must be 1 to 64 letters and digits")
	ErrUnknownCall    = errors.New("no such call")
)

// New returns an empty state.
func New() *State {
	return &State{
		pools:    newTable(hashString, func(p *Pool) string { return p.ID }),
		poolKeys: newTable(hashString, func(p *Pool) string { return p.Key }),
		visits:   newTable(hashVisitID, func(v *Visit) VisitID { return v.ID }),
		numbers:  newTable(hashString, func(n *Number) string { return n.E164 }),
		calls:    newTable(hashString, func(c *callEntry) string { return c.sid }),
		callers:  make(map[string]int),
	}
}

// maxMillis is the end of year 9999. Bounding every time keeps the sums of
// times and durations far from overflowing.
const maxMillis = 253402300799999

func validMillis(ms int64) bool { return ms >= 0 && ms <= maxMillis }

func stamp(t time.Time) (int64, error) {
	ms := millis(t)
	if ms <= 0 || ms > maxMillis {
		return 0, ErrBadTime
	}
	return ms, nil
}

// Pool returns the pool with the given id, or nil.
func (s *State) Pool(id string) *Pool { return s.pools.get(id) }

// PoolByKey returns the pool with the given public key, or nil.
func (s *State) PoolByKey(key string) *Pool { return s.poolKeys.get(key) }

// Pools lists every pool, deleted ones included, oldest first.
func (s *State) Pools() []*Pool {
	var out []*Pool
	s.poolLog.each(func(p *Pool) bool { out = append(out, p); return true })
	return out
}

// Visit returns the live visit with the given id, or nil.
func (s *State) Visit(id VisitID) *Visit { return s.visits.get(id) }

// Number returns the newest Number with the given E.164 form, or nil.
func (s *State) Number(e164 string) *Number { return s.numbers.get(e164) }
