package allocator

import (
	"slices"
	"sync/atomic"
	"time"
)

// Assign asks for a number for a new visit.
type Assign struct {
	// Visit is drawn at random by the node that accepted the visit; it
	// is also the request's id, so a retry is answered without a second
	// effect.
	Visit   VisitID
	PoolKey string // the pool's public key
	// Attribution should come clamped (Attribution.Clamp) by the node that
	// accepted the visit; Assign only cuts fields that are too long.
	Attribution Attribution
	At          time.Time
	// Unguarded marks an Assign written before the guards against scripts
	// existed (a pool's budget of new visits, DisplaceAfter, the form of
	// Google click ids). It is applied as it was then, so that replaying
	// an old log gives the state the old nodes had, whichever snapshot the
	// replay starts from. Only the log's decoder sets it.
	Unguarded bool
}

// Assign gives a new visit the number free the longest, if the pool admits
// it (Admits) and its budget of new visits has room (WithinBudget: else
// OverBudget, and no number). With none free, the pool's overflow policy decides: recycle
// displaces the least recently seen visit if its last heartbeat is at least
// the pool's DisplaceAfter old (else no number: the number stays with the
// person still reading the page), none gives no number. A visit that
// already exists keeps what it has (Sticky) and counts as a heartbeat.
func (s *State) Assign(a Assign) (Assignment, error) {
	at, err := stamp(a.At)
	if err != nil {
		return Assignment{}, err
	}
	p := s.poolKeys.get(a.PoolKey)
	if p == nil {
		return Assignment{}, ErrUnknownPool
	}
	if p.Deleted() {
		return Assignment{}, ErrPoolDeleted
	}
	if v := s.visits.get(a.Visit); v != nil {
		if v.Pool != p {
			return Assignment{}, ErrVisitElsewhere
		}
		s.touch(v, at)
		return Assignment{Outcome: Sticky, Visit: v, Number: v.Number()}, nil
	}
	if err := p.admits(&a.Attribution, !a.Unguarded); err != nil {
		return Assignment{}, err
	}
	st := &p.view.Load().settings
	if !a.Unguarded && !p.withinBudget(st, at) {
		return Assignment{Outcome: OverBudget}, nil
	}
	outcome, line := Fresh, p.freeLine(st.Allocation, hashVisitID(a.Visit))
	var displaced *Visit
	if line != none {
		p.free.remove(line)
	} else {
		if st.Overflow != OverflowRecycle || p.held.Load() == 0 {
			p.use.refuse(at)
			return Assignment{Outcome: Full}, nil
		}
		outcome, line = Recycled, p.oldestHolder()
		if !a.Unguarded && p.seen[line].Load() > at-int64(st.DisplaceAfter/time.Millisecond) {
			p.use.refuse(at)
			return Assignment{Outcome: Full}, nil // even the oldest holder was seen too recently
		}
		displaced = s.vacate(p, line, at, EndDisplaced)
		s.addNumberless(displaced)
		p.use.recycle(at)
	}
	// Read what take will write before the first atomic write below, so
	// these cache misses overlap instead of each waiting for the last.
	n := p.numbers[line].Load()
	_ = n.last.Load()
	_ = p.holders[line].Load()
	if !a.Unguarded {
		p.spend(st, at)
	}

	b := &visitBlock{}
	b.attribution = a.Attribution
	b.attribution.clampLengths()
	s.visitSeq++
	v := &b.visit
	*v = Visit{
		ID: a.Visit, Pool: p, Attribution: &b.attribution, line: none,
		FirstSeen: fromMillis(at), seq: s.visitSeq, req: RequestID(a.Visit),
	}
	s.visits.put(v)
	s.take(p, line, v, &b.tenure, at, displaced)
	s.schedule(p, at+int64(st.IdleTimeout/time.Millisecond))
	p.use.note(p, at)
	return Assignment{Outcome: outcome, Visit: v, Number: n, Displaced: displaced}, nil
}

// Admits reports whether the pool takes a new visit with this attribution:
// nil, or why not (ErrPoolDeleted, ErrNotGoogleClick). It is the rule Assign
// keeps; the node that accepts a visit asks it first, so that a visit the
// pool would refuse costs no log write.
func (p *Pool) Admits(a *Attribution) error { return p.admits(a, true) }

// admits is Admits, or without guards (an Unguarded Assign) as it was
// before: any Google click id, whatever its form, was one.
func (p *Pool) admits(a *Attribution, guarded bool) error {
	v := p.view.Load()
	switch {
	case v.deletedAt != 0:
		return ErrPoolDeleted
	case v.settings.Tracking == TrackGCLID && guarded && !a.GoogleClick():
		return ErrNotGoogleClick
	case v.settings.Tracking == TrackGCLID && !guarded && a.GCLID == "" && a.GBRAID == "" && a.WBRAID == "":
		return ErrNotGoogleClick
	}
	return nil
}

// visitBlock holds a new visit, its attribution and its first tenure in one
// allocation: one trip to the allocator instead of three on the hot path.
type visitBlock struct {
	visit       Visit
	attribution Attribution
	tenure      Tenure
}

// Refresh asks for a free number for a live visit that lost its own.
type Refresh struct {
	Visit VisitID
	Req   RequestID
	At    time.Time
}

// Refresh gives a numberless visit the number free the longest, if there is
// one. It never displaces another visit: that would only move the problem.
// A visit that has a number keeps it. Either way it counts as a heartbeat.
func (s *State) Refresh(r Refresh) (Assignment, error) {
	at, err := stamp(r.At)
	if err != nil {
		return Assignment{}, err
	}
	v := s.visits.get(r.Visit)
	if v == nil {
		return Assignment{}, ErrUnknownVisit
	}
	s.touch(v, at)
	p := v.Pool
	if v.line != none || v.req == r.Req || p.Deleted() {
		return Assignment{Outcome: Sticky, Visit: v, Number: v.Number()}, nil
	}
	line := p.freeLine(p.view.Load().settings.Allocation, hashVisitID(VisitID(r.Req)))
	if line == none {
		return Assignment{Outcome: Full, Visit: v}, nil
	}
	p.free.remove(line)
	s.removeNumberless(v)
	seen := v.seen.Load()
	s.take(p, line, v, new(Tenure), at, nil)
	p.seen[line].Store(seen)
	v.req = r.Req
	return Assignment{Outcome: Fresh, Visit: v, Number: p.numbers[line].Load()}, nil
}

// Touch records a heartbeat at the given time for each visit that is still
// live, and returns how many were. Heartbeats arrive batched; Touch costs
// no allocation, and a touch never moves a visit's last-seen time back.
func (s *State) Touch(ids []VisitID, at time.Time) int {
	t, err := stamp(at)
	if err != nil {
		return 0
	}
	// The work goes in stages over chunks of visits: find the visits, then
	// their last-seen cells, then write. Each stage's loads are independent
	// of each other, so the CPU overlaps their cache misses. The writes come
	// last because an atomic write is a locked instruction that waits for
	// every load before it.
	const chunk = 64
	var visits [chunk]*Visit
	var cells [chunk]*atomic.Int64
	n := 0
	for len(ids) > 0 {
		batch := ids[:min(len(ids), chunk)]
		ids = ids[len(batch):]
		s.visits.getMany(batch, visits[:len(batch)])
		k := 0
		for _, v := range visits[:len(batch)] {
			if v != nil {
				cells[k] = v.seenCell()
				k++
			}
		}
		n += k
		w := 0
		for _, c := range cells[:k] {
			if t > c.Load() {
				cells[w] = c
				w++
			}
		}
		for _, c := range cells[:w] {
			c.Store(t)
		}
	}
	return n
}

func (s *State) touch(v *Visit, t int64) {
	if c := v.seenCell(); t > c.Load() {
		c.Store(t)
	}
}

// seenCell is where the visit's last heartbeat is kept: on its pool's line
// while it holds a number, on the visit otherwise. Apply path only.
func (v *Visit) seenCell() *atomic.Int64 {
	if v.line != none {
		return &v.Pool.seen[v.line]
	}
	return &v.seen
}

// Expire ends every visit whose last heartbeat is at least its pool's idle
// timeout old, and returns how many ended. It looks only at pools whose
// oldest visit may be due, never at every visit.
func (s *State) Expire(at time.Time) int {
	now, err := stamp(at)
	if err != nil {
		return 0
	}
	ended := 0
	for {
		p, due := s.nextDue()
		if p == nil || due > now {
			return ended
		}
		s.expiry.pop()
		p.expiryDue = notScheduled
		n, next := s.expirePool(p, now)
		if n > 0 {
			p.use.note(p, now)
		}
		ended += n
		if next != noHolder {
			s.schedule(p, next)
		}
	}
}

// expirePool ends a pool's due visits and returns how many, and when the
// next one is due (noHolder if none is live).
func (s *State) expirePool(p *Pool, now int64) (int, int64) {
	idle := p.idleMillis()
	cutoff := now - idle
	next := int64(noHolder)
	var dueLines [MaxPoolSize]int8
	due := dueLines[:0]
	for i := range p.seen {
		seen := p.seen[i].Load()
		switch {
		case seen == noHolder:
		case seen <= cutoff:
			due = append(due, int8(i))
		case seen+idle < next:
			next = seen + idle
		}
	}
	// The number whose visitor left first goes to the free list first.
	slices.SortFunc(due, func(a, b int8) int {
		if sa, sb := p.seen[a].Load(), p.seen[b].Load(); sa != sb {
			if sa < sb {
				return -1
			}
			return 1
		}
		return int(a) - int(b)
	})
	n := len(due)
	for _, line := range due {
		s.endVisit(p.holders[line].Load(), now, EndExpired)
	}
	for v := p.nlHead; v != nil; {
		after := v.nlNext
		if seen := v.seen.Load(); seen <= cutoff {
			s.endVisit(v, now, EndExpired)
			n++
		} else if seen+idle < next {
			next = seen + idle
		}
		v = after
	}
	return n, next
}

// firstDeadline is when the pool's first live visit is due to expire, or
// noHolder if it has none.
func (p *Pool) firstDeadline() int64 {
	idle := p.idleMillis()
	first := int64(noHolder)
	for i := range p.seen {
		if seen := p.seen[i].Load(); seen != noHolder {
			first = min(first, seen+idle)
		}
	}
	for v := p.nlHead; v != nil; v = v.nlNext {
		first = min(first, v.seen.Load()+idle)
	}
	return first
}

// take gives line's number to v, which holds nothing, as tenure t.
func (s *State) take(p *Pool, line int8, v *Visit, t *Tenure, at int64, displaced *Visit) {
	n := p.numbers[line].Load()
	t.Visit, t.Number, t.Displaced, t.from, t.line = v, n, displaced, at, line
	n.prev.Store(n.last.Load())
	n.last.Store(t)
	n.lastAssigned.Store(at)
	p.holders[line].Store(v)
	p.seen[line].Store(at)
	p.held.Add(1)
	v.line = line
	v.cur.Store(t)
}

// vacate ends the tenure on a line, if any, and returns the visit that held
// it (now numberless but still live), or nil. The line is not freed.
func (s *State) vacate(p *Pool, line int8, at int64, why EndReason) *Visit {
	v := p.holders[line].Load()
	if v == nil {
		return nil
	}
	t := v.cur.Load()
	t.reason.Store(uint32(why))
	t.until.Store(at)
	v.seen.Store(p.seen[line].Load())
	v.cur.Store(nil)
	v.line = none
	p.holders[line].Store(nil)
	p.seen[line].Store(noHolder)
	p.held.Add(-1)
	return v
}

// endVisit ends a live visit and frees its number, if it has one.
func (s *State) endVisit(v *Visit, at int64, why EndReason) {
	p := v.Pool
	if line := v.line; line != none {
		s.vacate(p, line, at, why)
		p.free.pushBack(line)
		p.numbers[line].Load().lastFreed.Store(at)
	} else {
		s.removeNumberless(v)
	}
	s.visits.del(v.ID)
	v.ended.Store(at)
}

func (s *State) addNumberless(v *Visit) {
	p := v.Pool
	v.nlPrev, v.nlNext = p.nlTail, nil
	if p.nlTail != nil {
		p.nlTail.nlNext = v
	} else {
		p.nlHead = v
	}
	p.nlTail = v
	p.numberless.Add(1)
}

func (s *State) removeNumberless(v *Visit) {
	p := v.Pool
	if v.nlPrev != nil {
		v.nlPrev.nlNext = v.nlNext
	} else {
		p.nlHead = v.nlNext
	}
	if v.nlNext != nil {
		v.nlNext.nlPrev = v.nlPrev
	} else {
		p.nlTail = v.nlPrev
	}
	v.nlPrev, v.nlNext = nil, nil
	p.numberless.Add(-1)
}

// oldestHolder returns the line whose holder's last heartbeat is oldest,
// the lowest line on a tie. The pool must have a holder.
func (p *Pool) oldestHolder() int8 {
	best, bestSeen := none, int64(noHolder)
	for i := range p.seen {
		if s := p.seen[i].Load(); s < bestSeen {
			best, bestSeen = int8(i), s
		}
	}
	return best
}
