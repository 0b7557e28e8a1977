package allocator

import (
	"cmp"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// CreatePool asks for a new pool. The node that accepts the request draws
// ID and Key; a retry with the same ID and Key is answered with the pool.
type CreatePool struct {
	ID       string
	Key      string
	Settings Settings
	At       time.Time
}

// CreatePool adds a pool with no numbers yet.
func (s *State) CreatePool(c CreatePool) (*Pool, error) {
	at, err := stamp(c.At)
	if err != nil {
		return nil, err
	}
	if !validID(c.ID) {
		return nil, invalid("id", "must be 1 to %d letters, digits, '-' or '_'", MaxIDLen)
	}
	if !validID(c.Key) {
		return nil, invalid("key", "must be 1 to %d letters, digits, '-' or '_'", MaxIDLen)
	}
	if err := c.Settings.Validate(); err != nil {
		return nil, err
	}
	if p := s.pools.get(c.ID); p != nil {
		if p.Key == c.Key {
			return p, nil
		}
		return nil, ErrPoolExists
	}
	if s.poolKeys.get(c.Key) != nil {
		return nil, ErrKeyInUse
	}
	st := c.Settings
	st = st.owned()
	s.poolSeq++
	p := newPool(c.ID, c.Key, at, s.poolSeq)
	p.view.Store(&poolView{settings: st, updatedAt: at})
	s.addPool(p)
	return p, nil
}

func newPool(id, key string, createdAt int64, seq uint64) *Pool {
	p := &Pool{ID: id, Key: key, CreatedAt: fromMillis(createdAt), seq: seq, expiryDue: notScheduled}
	p.free.init()
	for i := range p.seen {
		p.seen[i].Store(noHolder)
	}
	return p
}

func (s *State) addPool(p *Pool) {
	s.pools.put(p)
	s.poolKeys.put(p)
	s.poolLog.append(p)
}

// UpdatePool changes some settings of a pool. Req makes a retry harmless.
type UpdatePool struct {
	ID    string
	Req   RequestID
	Patch Patch
	At    time.Time
}

// Update is what UpdatePool did.
type Update struct {
	Pool *Pool
	// Retired lists the numbers a smaller size took out of service: free
	// ones first (free the longest first), then held ones by their holder's
	// oldest heartbeat. Their holders wait for a free number.
	Retired []*Number
}

// UpdatePool applies a patch to a pool's settings. Shrinking takes numbers
// out of service at once; growing leaves the buying to the provisioner.
func (s *State) UpdatePool(u UpdatePool) (Update, error) {
	at, err := stamp(u.At)
	if err != nil {
		return Update{}, err
	}
	p := s.pools.get(u.ID)
	if p == nil {
		return Update{}, ErrUnknownPool
	}
	if p.Deleted() {
		return Update{}, ErrPoolDeleted
	}
	if slices.Contains(p.recentReqs[:], u.Req) && u.Req != (RequestID{}) {
		return Update{Pool: p}, nil
	}
	old := p.Settings()
	st := old.Patched(&u.Patch)
	st = st.owned()
	if err := st.Validate(); err != nil {
		return Update{}, err
	}
	p.recentReqs[p.nextReq] = u.Req
	p.nextReq = (p.nextReq + 1) % len(p.recentReqs)
	history := p.History()
	if st.Size != old.Size {
		history = appendHistory(history, SizeChange{At: fromMillis(at), From: old.Size, To: st.Size, Reason: "changed by hand"})
	}
	p.view.Store(&poolView{settings: st, updatedAt: at, notice: p.Notice(), history: history})
	var up Update
	up.Pool = p
	if k := int(p.active.Load()) - st.Size; k > 0 {
		up.Retired = s.shrink(p, k, at)
	}
	if st.IdleTimeout < old.IdleTimeout {
		if due := p.firstDeadline(); due != noHolder {
			s.schedule(p, due)
		}
	}
	return up, nil
}

// shrink takes k numbers out of service: free numbers first, from the front
// of the free list, then held ones by their holder's oldest heartbeat.
func (s *State) shrink(p *Pool, k int, at int64) []*Number {
	out := make([]*Number, 0, k)
	for ; k > 0 && p.free.head != none; k-- {
		out = append(out, s.retire(p, p.free.head, at, EndShrunk))
	}
	for ; k > 0; k-- {
		out = append(out, s.retire(p, p.oldestHolder(), at, EndShrunk))
	}
	return out
}

// ShrinkOrder lists the pool's numbers in service in the order a smaller
// size takes them out of service (shrink): free numbers first, never-held
// ones ahead of the rest and then the longest free, then held ones by their
// holder's oldest heartbeat. It is the preview the admin pages show before
// a marketer saves a smaller size.
//
// Any goroutine may call it: it reads the lines and times readers may read,
// not the free list, which belongs to the apply path, so a write under way
// may change the order before the shrink is applied.
func (p *Pool) ShrinkOrder() []*Number {
	type line struct {
		n        *Number
		i        int
		group    int   // 0 free and never held, 1 free, 2 held
		at, left int64 // group 1: when freed and when its last visitor was seen; group 2: its holder's last heartbeat
	}
	var lines []line
	for i := range p.numbers {
		n := p.numbers[i].Load()
		if n == nil {
			continue
		}
		l := line{n: n, i: i}
		switch {
		case p.holders[i].Load() != nil:
			l.group, l.at = 2, p.seen[i].Load()
		case n.lastAssigned.Load() == 0:
			l.group, l.at = 0, int64(n.seq)
		default:
			// Expire frees numbers in the order their visitors left, all at
			// the same time: the visitor's last heartbeat breaks the tie.
			l.group, l.at = 1, n.lastFreed.Load()
			if t := n.last.Load(); t != nil {
				l.left = t.Visit.seen.Load()
			}
		}
		lines = append(lines, l)
	}
	slices.SortFunc(lines, func(a, b line) int {
		if c := cmp.Compare(a.group, b.group); c != 0 {
			return c
		}
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		if c := cmp.Compare(a.left, b.left); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	out := make([]*Number, len(lines))
	for i, l := range lines {
		out[i] = l.n
	}
	return out
}

// DeletePool asks to delete a pool.
type DeletePool struct {
	ID string
	At time.Time
}

// DeletePool soft-deletes a pool: its live visits end, its numbers go out
// of service to be released at the provider, and its history stays.
// Deleting a deleted pool does nothing.
func (s *State) DeletePool(d DeletePool) (*Pool, error) {
	at, err := stamp(d.At)
	if err != nil {
		return nil, err
	}
	p := s.pools.get(d.ID)
	if p == nil {
		return nil, ErrUnknownPool
	}
	if p.Deleted() {
		return p, nil
	}
	for i := range p.holders {
		if v := p.holders[i].Load(); v != nil {
			s.endVisit(v, at, EndPoolDeleted)
		}
	}
	for p.nlHead != nil {
		s.endVisit(p.nlHead, at, EndPoolDeleted)
	}
	for i := range p.numbers {
		if p.numbers[i].Load() != nil {
			s.retire(p, int8(i), at, EndPoolDeleted)
		}
	}
	s.unschedule(p)
	p.use.note(p, at)
	v := *p.view.Load()
	v.updatedAt, v.deletedAt = at, at
	p.view.Store(&v)
	return p, nil
}

// MaxNoticeLen bounds a pool's notice.
const MaxNoticeLen = 300

// SetNotice records what the provisioner has to say about a pool; an empty
// Notice clears it.
type SetNotice struct {
	Pool   string // pool id
	Notice string
}

// SetNotice replaces the pool's notice. Setting the same notice again does
// nothing.
func (s *State) SetNotice(n SetNotice) (*Pool, error) {
	p := s.pools.get(n.Pool)
	if p == nil {
		return nil, ErrUnknownPool
	}
	if len(n.Notice) > MaxNoticeLen || !utf8.ValidString(n.Notice) {
		return nil, invalid("notice", "must be valid UTF-8 of at most %d bytes", MaxNoticeLen)
	}
	if v := p.view.Load(); v.notice != n.Notice {
		nv := *v
		nv.notice = n.Notice
		p.view.Store(&nv)
	}
	return p, nil
}

// AddNumber records a number bought for a pool, or brought by the customer.
type AddNumber struct {
	Pool       string // pool id
	E164       string
	ProviderID string
	// Owned marks a number the customer brought. It counts toward the
	// pool's size (which grows to make room) and is refused, not released,
	// when there is no room.
	Owned bool
	At    time.Time
}

// AddNumber puts a number into service in a pool. Adding it again does
// nothing. A bought number that arrives when the pool no longer wants it
// (shrunk or deleted meanwhile) is recorded as releasing, so the
// provisioner gives it back: a bought number is never lost track of.
func (s *State) AddNumber(a AddNumber) (*Number, error) {
	at, err := stamp(a.At)
	if err != nil {
		return nil, err
	}
	if !ValidE164(a.E164) {
		return nil, invalid("number", "%q is not an E.164 number such as +14155550100", a.E164)
	}
	if len(a.ProviderID) > MaxIDLen {
		return nil, invalid("provider_id", "must be at most %d characters", MaxIDLen)
	}
	p := s.pools.get(a.Pool)
	if p == nil {
		return nil, ErrUnknownPool
	}
	if n := s.numbers.get(a.E164); n != nil && n.State() != NumberReleased {
		if n.Pool == p {
			return n, nil
		}
		return nil, fmt.Errorf("%s: %w", a.E164, ErrNumberInUse)
	}
	size := p.Settings().Size
	line := p.emptyLine()
	wanted := !p.Deleted() && line != none && int(p.active.Load()) < size
	if a.Owned && !wanted {
		switch {
		case p.Deleted():
			return nil, ErrPoolDeleted
		case line == none:
			return nil, ErrPoolFull
		}
		v := *p.view.Load()
		v.settings.Size = int(p.active.Load()) + 1
		v.updatedAt = at
		p.view.Store(&v)
		wanted = true
	}
	s.numberSeq++
	n := &Number{
		E164: a.E164, ProviderID: a.ProviderID, Pool: p, AddedAt: fromMillis(at),
		Owned: a.Owned, seq: s.numberSeq, line: none,
	}
	s.numbers.put(n)
	p.all.append(n)
	if !wanted {
		n.state.Store(uint32(NumberReleasing))
		n.releasedAt.Store(at)
		p.releasing.Add(1)
		return n, nil
	}
	n.line = line
	p.numbers[line].Store(n)
	p.active.Add(1)
	p.free.pushFresh(line)
	p.use.note(p, at)
	return n, nil
}

func (p *Pool) emptyLine() int8 {
	for i := range p.numbers {
		if p.numbers[i].Load() == nil {
			return int8(i)
		}
	}
	return none
}

// ReleaseNumber names a number by its E.164 form.
type ReleaseNumber struct {
	E164 string
	At   time.Time
}

// MarkRelease takes a number out of service so the provisioner releases it
// at the provider (and, the pool's size unchanged, buys a replacement). Its
// holder waits for a free number. Marking it again does nothing.
func (s *State) MarkRelease(r ReleaseNumber) (*Number, error) {
	at, err := stamp(r.At)
	if err != nil {
		return nil, err
	}
	n := s.numbers.get(r.E164)
	if n == nil {
		return nil, ErrUnknownNumber
	}
	if n.State() == NumberActive {
		s.retire(n.Pool, n.line, at, EndReleased)
	}
	return n, nil
}

// ConfirmRelease records that the provider no longer has the number. A
// number still in service (lost at the provider) leaves service first.
func (s *State) ConfirmRelease(r ReleaseNumber) (*Number, error) {
	at, err := stamp(r.At)
	if err != nil {
		return nil, err
	}
	n := s.numbers.get(r.E164)
	if n == nil {
		return nil, ErrUnknownNumber
	}
	switch n.State() {
	case NumberActive:
		s.retire(n.Pool, n.line, at, EndReleased)
		fallthrough
	case NumberReleasing:
		n.state.Store(uint32(NumberReleased))
		n.Pool.releasing.Add(-1)
	}
	return n, nil
}

// retire takes the number on a line out of service. Its holder, if any,
// stays live without a number.
func (s *State) retire(p *Pool, line int8, at int64, why EndReason) *Number {
	n := p.numbers[line].Load()
	if v := s.vacate(p, line, at, why); v != nil {
		s.addNumberless(v)
	} else {
		p.free.remove(line)
	}
	p.numbers[line].Store(nil)
	p.active.Add(-1)
	p.use.note(p, at)
	n.line = none
	n.state.Store(uint32(NumberReleasing))
	n.releasedAt.Store(at)
	p.releasing.Add(1)
	return n
}
