package allocator

import (
	"sync/atomic"
	"time"
)

// MatchKind says how sure the match of a call to a visit is.
type MatchKind string

const (
	// MatchLive: the visit held the number when the call came.
	MatchLive MatchKind = "live"
	// MatchRecent: the visit had left, within the attribution window, and
	// nobody held the number since.
	MatchRecent MatchKind = "recent"
	// MatchShared: the visit took the number by displacing another one
	// within the window; either visitor may be calling. Also names the other.
	MatchShared MatchKind = "shared"
	// MatchNone: nobody held the number within the window.
	MatchNone MatchKind = "none"
)

// Match is the visit a call to a number most likely came from.
type Match struct {
	Kind   MatchKind
	Number *Number // nil when the number is unknown
	Visit  *Visit  // nil for MatchNone
	Also   *Visit  // the other candidate of a shared match
}

// MatchCall finds the visit behind a call to number at the given time: the
// holder then; else the last holder, if it left within the pool's
// attribution window; else none. Safe for any goroutine.
func (s *State) MatchCall(number string, at time.Time) Match {
	n := s.numbers.get(number)
	if n == nil {
		return Match{Kind: MatchNone}
	}
	return matchNumber(n, millis(at))
}

func matchNumber(n *Number, at int64) Match {
	window := int64(n.Pool.Settings().AttributionWindow / time.Millisecond)
	for _, t := range n.tenures() {
		if t == nil {
			break
		}
		if t.from > at {
			continue // began after the call
		}
		kind := MatchLive
		if until := t.until.Load(); until != 0 && until < at {
			if at-until > window {
				break
			}
			kind = MatchRecent
		}
		m := Match{Kind: kind, Number: n, Visit: t.Visit}
		if t.Displaced != nil && at-t.from <= window {
			m.Kind, m.Also = MatchShared, t.Displaced
		}
		return m
	}
	return Match{Kind: MatchNone, Number: n}
}

// CallStatus is a call's progress, in Twilio's words.
type CallStatus string

// The call statuses, in the order a call goes through them.
const (
	CallQueued     CallStatus = "queued"
	CallRinging    CallStatus = "ringing"
	CallInProgress CallStatus = "in-progress"
	CallCompleted  CallStatus = "completed"
	CallBusy       CallStatus = "busy"
	CallNoAnswer   CallStatus = "no-answer"
	CallFailed     CallStatus = "failed"
	CallCanceled   CallStatus = "canceled"
)

// rank orders statuses; a call's status only moves forward, and the first
// final status it reaches stays.
func (c CallStatus) rank() int {
	switch c {
	case CallQueued:
		return 1
	case CallRinging:
		return 2
	case CallInProgress:
		return 3
	case CallCompleted, CallBusy, CallNoAnswer, CallFailed, CallCanceled:
		return 4
	}
	return 0
}

// Valid reports whether c is one of the statuses above.
func (c CallStatus) Valid() bool { return c.rank() > 0 }

// A Call is one inbound call to a tracking number. Calls never change once
// made: an update replaces the Call with a new one.
type Call struct {
	SID       string // the provider's call id, such as Twilio's CallSid
	To        string // the tracking number called
	From      string // the caller
	PoolID    string // empty when the number is unknown
	StartedAt time.Time
	UpdatedAt time.Time

	Match MatchKind
	Visit VisitID // zero for MatchNone
	Also  VisitID // the other candidate of a shared match
	// Attribution is the matched visit's, nil for MatchNone.
	Attribution *Attribution
	// FirstTime is set when no earlier call came from the same caller.
	FirstTime bool

	Status     CallStatus
	Duration   time.Duration
	AnsweredBy string // the forwarding number that answered
	// Whisper is set when the pool whispered the call's source to whoever
	// answered.
	Whisper bool
	// Recorded is set once the voice webhook's record arrived; until then
	// the call is known only from status updates.
	Recorded bool
	// Recordings are the call's voicemail message and recorded
	// conversation, if any (recordings.go). Shared: never changed.
	Recordings []Recording

	// Worth is what the call was worth (outcome.go).
	Worth
}

type callEntry struct {
	sid string
	cur atomic.Pointer[Call]
}

// load is the entry's call, nil for no entry.
func (e *callEntry) load() *Call {
	if e == nil {
		return nil
	}
	return e.cur.Load()
}

// Limits on call fields.
const (
	MaxCallSIDLen   = 64
	MaxCallPartyLen = 64
)

// Call returns the call with the given SID, or nil.
func (s *State) Call(sid string) *Call {
	if e := s.calls.get(sid); e != nil {
		return e.cur.Load()
	}
	return nil
}

// Calls calls fn for every call, newest first, until fn returns false.
func (s *State) Calls(fn func(*Call) bool) {
	s.callLog.eachReverse(func(e *callEntry) bool { return fn(e.cur.Load()) })
}

// CallsBefore calls fn for the calls older than position end, newest first,
// with each call's position, until fn returns false. Positions never
// change, so they make stable pagination cursors; CallCount is the end of
// the list.
func (s *State) CallsBefore(end int, fn func(pos int, c *Call) bool) {
	s.callLog.eachBefore(end, func(pos int, e *callEntry) bool { return fn(pos, e.cur.Load()) })
}

// CallCount is how many calls were ever recorded.
func (s *State) CallCount() int { return s.callLog.len() }

// CallsMatched counts recorded calls by how they matched a visit.
func (s *State) CallsMatched() map[MatchKind]int64 {
	out := make(map[MatchKind]int64, len(matchKinds))
	for i, k := range matchKinds {
		out[k] = s.matched[i].Load()
	}
	return out
}

var matchKinds = [...]MatchKind{MatchLive, MatchRecent, MatchShared, MatchNone}

func (s *State) countMatch(k MatchKind) {
	for i, m := range matchKinds {
		if m == k {
			s.matched[i].Add(1)
		}
	}
}

// RecordCall records an inbound call, as the voice webhook saw it.
type RecordCall struct {
	SID  string
	To   string
	From string
	At   time.Time
}

// RecordCall records a call with the match of its number at its time and a
// copy of the matched visit's attribution. Recording it again does nothing;
// status updates that came first are kept.
func (s *State) RecordCall(r RecordCall) (*Call, error) {
	at, err := stamp(r.At)
	if err != nil {
		return nil, err
	}
	if !validCallSID(r.SID) {
		return nil, ErrBadCall
	}
	e := s.calls.get(r.SID)
	var c Call
	if e != nil {
		old := e.cur.Load()
		if old.Recorded {
			return old, nil
		}
		c = *old
	} else {
		c = Call{SID: r.SID, UpdatedAt: fromMillis(at)}
	}
	c.To = clampString(r.To, MaxCallPartyLen)
	c.From = clampString(r.From, MaxCallPartyLen)
	c.StartedAt = fromMillis(at)
	c.Recorded = true
	if c.Status.rank() < CallRinging.rank() {
		c.Status = CallRinging // it reached us, so it rang
	}
	m := Match{Kind: MatchNone}
	if n := s.numbers.get(c.To); n != nil {
		m = matchNumber(n, at)
		n.Pool.use.call(at, m.Kind)
		c.PoolID = n.Pool.ID
		c.Whisper = n.Pool.Settings().Whisper
	}
	c.Match = m.Kind
	if m.Visit != nil {
		c.Visit, c.Attribution = m.Visit.ID, m.Visit.Attribution
	}
	if m.Also != nil {
		c.Also = m.Also.ID
	}
	c.FirstTime = s.callers[c.From] == 0
	s.callers[c.From]++
	s.countMatch(c.Match)
	s.judge(&c, at) // the call may have ended before its record arrived
	s.announce(e.load(), &c, at)
	return s.putCall(e, &c), nil
}

// UpdateCall reports a call's progress, as the status callback saw it.
type UpdateCall struct {
	SID        string
	Status     CallStatus
	Duration   time.Duration
	AnsweredBy string
	At         time.Time
}

// UpdateCall moves a call's status forward; an update that would move it
// back, or repeats one already applied, changes only an AnsweredBy not known
// yet (the dial result and the final status may arrive in either order). An
// update for a call not recorded yet is kept until the record arrives.
func (s *State) UpdateCall(u UpdateCall) (*Call, error) {
	at, err := stamp(u.At)
	if err != nil {
		return nil, err
	}
	if !validCallSID(u.SID) {
		return nil, ErrBadCall
	}
	if !u.Status.Valid() {
		return nil, invalid("status", "unknown call status %q", u.Status)
	}
	if u.Duration < 0 {
		return nil, invalid("duration", "must not be negative")
	}
	e := s.calls.get(u.SID)
	var c Call
	if e != nil {
		old := e.cur.Load()
		forward := u.Status.rank() > old.Status.rank()
		fill := old.AnsweredBy == "" && u.AnsweredBy != ""
		if !forward && !fill {
			return old, nil
		}
		c = *old
		if !forward {
			c.AnsweredBy = clampString(u.AnsweredBy, MaxCallPartyLen)
			if c.Recorded {
				s.judge(&c, at)
			}
			s.announce(old, &c, at)
			return s.putCall(e, &c), nil
		}
	} else {
		c = Call{SID: u.SID, StartedAt: fromMillis(at), Match: MatchNone}
	}
	c.Status = u.Status
	c.Duration = u.Duration
	if u.AnsweredBy != "" {
		c.AnsweredBy = clampString(u.AnsweredBy, MaxCallPartyLen)
	}
	c.UpdatedAt = fromMillis(at)
	if c.Recorded {
		s.judge(&c, at)
	}
	s.announce(e.load(), &c, at)
	return s.putCall(e, &c), nil
}

func (s *State) putCall(e *callEntry, c *Call) *Call {
	if e == nil {
		e = &callEntry{sid: c.SID}
		e.cur.Store(c)
		s.calls.put(e)
		s.callLog.append(e)
		return c
	}
	e.cur.Store(c)
	return c
}

func validCallSID(sid string) bool {
	if len(sid) == 0 || len(sid) > MaxCallSIDLen {
		return false
	}
	for i := 0; i < len(sid); i++ {
		c := sid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
