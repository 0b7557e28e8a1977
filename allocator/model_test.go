package allocator

import (
	"errors"
	"regexp"
	"slices"
	"time"
)

// model is a second, deliberately plain implementation of the allocator's
// rules, written from the rules and not from the data structures: slices
// instead of linked lists, one last-seen time per visit instead of per line,
// every tenure kept, O(n) scans everywhere. The property tests feed it and a
// real State the same operations and compare what they say.
type model struct {
	pools   []*mPool   // creation order
	numbers []*mNumber // every number ever added, seq-1 = index
	visits  []*mVisit  // every visit ever made, seq-1 = index
	live    []*mVisit  // live visits, by seq
	calls   []*mCall   // first-seen order
	callers map[string]int
	newest  map[string]*mNumber // by E.164, the newest number
	bySID   map[string]*mCall

	// freedCount orders the moments numbers were pushed onto free lists.
	freedCount uint64
}

type mPool struct {
	seq                             uint64
	id, key                         string
	settings                        Settings
	createdAt, updatedAt, deletedAt int64
	lines                           [MaxPoolSize]*mNumber // numbers in service, by line
	free                            []int                 // free lines, front first
	numberless                      []*mVisit             // live visits without a number, oldest first
	numbers                         []*mNumber            // every number the pool had, in the order added
	reqs                            []RequestID           // accepted update requests, oldest first
	// The budget of new visits: how much is spent, in 1/60,000ths of a
	// visit, as of the newest visit it granted.
	spent, spentAt int64
}

// budget is the pool's budget of new visits: how many a minute, and how
// many at once. Zero settings mean twice the size a minute, the size at
// once.
func (p *mPool) budget() (perMinute, burst int64) {
	perMinute, burst = int64(p.settings.VisitsPerMinute), int64(p.settings.VisitBurst)
	if perMinute == 0 {
		perMinute = 2 * int64(p.settings.Size)
	}
	if burst == 0 {
		burst = int64(p.settings.Size)
	}
	return perMinute, burst
}

// spentBy is what is spent at time at: a minute's worth of a visit per
// visit granted, refilled at perMinute units a millisecond since the last
// one (nothing for a time before it).
func (p *mPool) spentBy(at int64) int64 {
	perMinute, _ := p.budget()
	if at <= p.spentAt || p.spent == 0 {
		return p.spent
	}
	return max(0, p.spent-(at-p.spentAt)*perMinute)
}

type mNumber struct {
	seq                                 uint64
	e164, providerID                    string
	pool                                *mPool
	owned                               bool
	addedAt                             int64
	state                               NumberState
	line                                int // -1 unless in service
	holder                              *mVisit
	lastAssigned, lastFreed, releasedAt int64
	tenures                             []*mTenure // oldest first, all of them
	// freed is the freedCount at which the number last went onto a free
	// list; 0 if it never has (a number nobody held).
	freed uint64
}

type mTenure struct {
	visit, displaced *mVisit
	from, until      int64
	reason           EndReason
}

type mVisit struct {
	seq       uint64
	id        VisitID
	pool      *mPool
	attr      *Attribution
	firstSeen int64
	seen      int64 // last heartbeat, held or not
	ended     int64
	req       RequestID
	number    *mNumber
}

type mCall struct{ c Call }

func newModel() *model {
	return &model{callers: make(map[string]int), newest: make(map[string]*mNumber), bySID: make(map[string]*mCall)}
}

func (m *model) poolByID(id string) *mPool {
	for _, p := range m.pools {
		if p.id == id {
			return p
		}
	}
	return nil
}

func (m *model) poolByKey(key string) *mPool {
	for _, p := range m.pools {
		if p.key == key {
			return p
		}
	}
	return nil
}

// number is the newest number with the given E.164 form.
func (m *model) number(e164 string) *mNumber { return m.newest[e164] }

func (m *model) liveVisit(id VisitID) *mVisit {
	for _, v := range m.live {
		if v.id == id {
			return v
		}
	}
	return nil
}

func (m *model) call(sid string) *mCall { return m.bySID[sid] }

func (p *mPool) deleted() bool { return p.deletedAt != 0 }

func (p *mPool) active() int {
	n := 0
	for _, num := range p.lines {
		if num != nil {
			n++
		}
	}
	return n
}

func (p *mPool) held() int {
	n := 0
	for _, num := range p.lines {
		if num != nil && num.holder != nil {
			n++
		}
	}
	return n
}

func (p *mPool) releasing() int {
	n := 0
	for _, num := range p.numbers {
		if num.state == NumberReleasing {
			n++
		}
	}
	return n
}

func (p *mPool) counts() Counts {
	active, held := p.active(), p.held()
	return Counts{
		Active:     active,
		Free:       active - held,
		Releasing:  p.releasing(),
		Live:       held + len(p.numberless),
		Numberless: len(p.numberless),
	}
}

func (p *mPool) status() PoolStatus {
	switch {
	case p.deleted() && p.releasing() > 0:
		return PoolDeleting
	case p.deleted():
		return PoolDeleted
	case p.active() < p.settings.Size:
		return PoolProvisioning
	}
	return PoolActive
}

// oldestHolderLine is the line whose holder was seen longest ago, the lowest
// line on a tie, or -1.
func (p *mPool) oldestHolderLine() int {
	best := -1
	for line, n := range p.lines {
		if n == nil || n.holder == nil {
			continue
		}
		if best < 0 || n.holder.seen < p.lines[best].holder.seen {
			best = line
		}
	}
	return best
}

func (p *mPool) removeFree(line int) {
	i := slices.Index(p.free, line)
	if i < 0 {
		panic("model: line not free")
	}
	p.free = slices.Delete(p.free, i, i+1)
}

// takeFree takes a line off the free list: the front one (LRU), or under
// random allocation the one at hash modulo the free count.
func (p *mPool) takeFree(hash uint64) int {
	i := 0
	if p.settings.Allocation == AllocateRandom {
		i = int(hash % uint64(len(p.free)))
	}
	line := p.free[i]
	p.free = slices.Delete(p.free, i, i+1)
	return line
}

func (p *mPool) removeNumberless(v *mVisit) {
	i := slices.Index(p.numberless, v)
	if i < 0 {
		panic("model: visit not numberless")
	}
	p.numberless = slices.Delete(p.numberless, i, i+1)
}

// mErr is what the model expects a real error to be: a sentinel to match
// with errors.Is, or a validation error of one field.
type mErr struct {
	is    error
	field string
}

func (e *mErr) Error() string {
	if e.is != nil {
		return e.is.Error()
	}
	return "invalid " + e.field
}

func errIs(err error) *mErr { return &mErr{is: err} }

func errField(field string) *mErr { return &mErr{field: field} }

// settingsErr turns Settings.Validate's answer into a model error.
func settingsErr(s Settings) *mErr {
	var ve *ValidationError
	if err := s.Validate(); errors.As(err, &ve) {
		return errField(ve.Field)
	}
	return nil
}

func ms(t time.Time) (int64, *mErr) {
	at := t.UnixMilli()
	if at <= 0 || at > time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli() {
		return 0, errIs(ErrBadTime)
	}
	return at, nil
}

// result is what an operation said, in a form both the model and a real
// State can produce and two results can be compared with reflect.DeepEqual.
type result struct {
	Err       *mErr // the model's
	RealErr   error // a State's
	Pool      string
	PoolSeq   uint64
	Outcome   Outcome
	Visit     uint64 // seq
	Number    string
	NumberSeq uint64
	State     NumberState
	Displaced uint64
	Retired   []string
	Count     int
	Match     MatchKind
	Also      uint64
	Call      *Call
}

func (m *model) createPool(c CreatePool) result {
	at, e := ms(c.At)
	switch {
	case e != nil:
		return result{Err: e}
	case !validID(c.ID):
		return result{Err: errField("id")}
	case !validID(c.Key):
		return result{Err: errField("key")}
	}
	if e := settingsErr(c.Settings); e != nil {
		return result{Err: e}
	}
	if p := m.poolByID(c.ID); p != nil {
		if p.key == c.Key {
			return result{Pool: p.id, PoolSeq: p.seq}
		}
		return result{Err: errIs(ErrPoolExists)}
	}
	if m.poolByKey(c.Key) != nil {
		return result{Err: errIs(ErrKeyInUse)}
	}
	st := c.Settings
	st.ForwardTo, st.AllowedOrigins = slices.Clone(st.ForwardTo), slices.Clone(st.AllowedOrigins)
	if len(st.AllowedOrigins) == 0 {
		st.AllowedOrigins = nil // as a snapshot gives it back
	}
	p := &mPool{seq: uint64(len(m.pools) + 1), id: c.ID, key: c.Key, settings: st, createdAt: at, updatedAt: at}
	m.pools = append(m.pools, p)
	return result{Pool: p.id, PoolSeq: p.seq}
}

func (m *model) addNumber(a AddNumber) result {
	at, e := ms(a.At)
	switch {
	case e != nil:
		return result{Err: e}
	case !ValidE164(a.E164):
		return result{Err: errField("number")}
	case len(a.ProviderID) > MaxIDLen:
		return result{Err: errField("provider_id")}
	}
	p := m.poolByID(a.Pool)
	if p == nil {
		return result{Err: errIs(ErrUnknownPool)}
	}
	if n := m.number(a.E164); n != nil && n.state != NumberReleased {
		if n.pool == p {
			return numberResult(n)
		}
		return result{Err: errIs(ErrNumberInUse)}
	}
	line := slices.Index(p.lines[:], nil)
	wanted := !p.deleted() && line >= 0 && p.active() < p.settings.Size
	if a.Owned && !wanted {
		switch {
		case p.deleted():
			return result{Err: errIs(ErrPoolDeleted)}
		case line < 0:
			return result{Err: errIs(ErrPoolFull)}
		}
		p.settings.Size = p.active() + 1
		p.updatedAt = at
		wanted = true
	}
	n := &mNumber{
		seq: uint64(len(m.numbers) + 1), e164: a.E164, providerID: a.ProviderID, pool: p,
		owned: a.Owned, addedAt: at, state: NumberActive, line: -1,
	}
	m.numbers = append(m.numbers, n)
	m.newest[n.e164] = n
	p.numbers = append(p.numbers, n)
	if !wanted {
		n.state = NumberReleasing
		n.releasedAt = at
		return numberResult(n)
	}
	n.line = line
	p.lines[line] = n
	// A number nobody held goes behind the other never-held numbers at the
	// front of the free list.
	pos := 0
	for pos < len(p.free) && p.lines[p.free[pos]].lastAssigned == 0 {
		pos++
	}
	p.free = slices.Insert(p.free, pos, line)
	return numberResult(n)
}

func numberResult(n *mNumber) result {
	return result{Number: n.e164, NumberSeq: n.seq, State: n.state}
}

func (m *model) updatePool(u UpdatePool) result {
	at, e := ms(u.At)
	if e != nil {
		return result{Err: e}
	}
	p := m.poolByID(u.ID)
	if p == nil {
		return result{Err: errIs(ErrUnknownPool)}
	}
	if p.deleted() {
		return result{Err: errIs(ErrPoolDeleted)}
	}
	recent := p.reqs[max(0, len(p.reqs)-4):]
	if u.Req != (RequestID{}) && slices.Contains(recent, u.Req) {
		return result{Pool: p.id, PoolSeq: p.seq}
	}
	st := p.settings.Patched(&u.Patch)
	st.ForwardTo, st.AllowedOrigins = slices.Clone(st.ForwardTo), slices.Clone(st.AllowedOrigins)
	if len(st.AllowedOrigins) == 0 {
		st.AllowedOrigins = nil // as a snapshot gives it back
	}
	if e := settingsErr(st); e != nil {
		return result{Err: e}
	}
	p.reqs = append(p.reqs, u.Req)
	p.settings = st
	p.updatedAt = at
	r := result{Pool: p.id, PoolSeq: p.seq}
	for k := p.active() - st.Size; k > 0; k-- {
		line := -1
		if len(p.free) > 0 {
			line = p.free[0]
		} else {
			line = p.oldestHolderLine()
		}
		r.Retired = append(r.Retired, m.retire(p, line, at, EndShrunk).e164)
	}
	return r
}

// retire takes a line's number out of service; its holder stays live and
// waits for a number.
func (m *model) retire(p *mPool, line int, at int64, why EndReason) *mNumber {
	n := p.lines[line]
	if v := n.holder; v != nil {
		m.vacate(n, at, why)
		p.numberless = append(p.numberless, v)
	} else {
		p.removeFree(line)
	}
	p.lines[line] = nil
	n.line = -1
	n.state = NumberReleasing
	n.releasedAt = at
	return n
}

// vacate ends the holding of a number, leaving the visit live.
func (m *model) vacate(n *mNumber, at int64, why EndReason) *mVisit {
	v := n.holder
	t := n.tenures[len(n.tenures)-1]
	t.until, t.reason = at, why
	n.holder, v.number = nil, nil
	return v
}

// take gives a free or vacated line's number to a visit holding nothing.
func (m *model) take(n *mNumber, v *mVisit, at int64, displaced *mVisit) {
	n.tenures = append(n.tenures, &mTenure{visit: v, displaced: displaced, from: at})
	n.holder, v.number = v, n
	n.lastAssigned = at
}

// end ends a live visit; a number it holds goes to the back of the free list.
func (m *model) end(v *mVisit, at int64, why EndReason) {
	p := v.pool
	if n := v.number; n != nil {
		m.vacate(n, at, why)
		p.free = append(p.free, n.line)
		n.lastFreed = at
		m.freedCount++
		n.freed = m.freedCount
	} else {
		p.removeNumberless(v)
	}
	v.ended = at
	m.live = slices.DeleteFunc(m.live, func(w *mVisit) bool { return w == v })
}

func (m *model) deletePool(d DeletePool) result {
	at, e := ms(d.At)
	if e != nil {
		return result{Err: e}
	}
	p := m.poolByID(d.ID)
	if p == nil {
		return result{Err: errIs(ErrUnknownPool)}
	}
	if p.deleted() {
		return result{Pool: p.id, PoolSeq: p.seq}
	}
	for _, v := range slices.Clone(m.live) {
		if v.pool == p {
			m.end(v, at, EndPoolDeleted)
		}
	}
	for line, n := range p.lines {
		if n != nil {
			m.retire(p, line, at, EndPoolDeleted)
		}
	}
	p.updatedAt, p.deletedAt = at, at
	return result{Pool: p.id, PoolSeq: p.seq}
}

func (m *model) markRelease(r ReleaseNumber) result {
	at, e := ms(r.At)
	if e != nil {
		return result{Err: e}
	}
	n := m.number(r.E164)
	if n == nil {
		return result{Err: errIs(ErrUnknownNumber)}
	}
	if n.state == NumberActive {
		m.retire(n.pool, n.line, at, EndReleased)
	}
	return numberResult(n)
}

func (m *model) confirmRelease(r ReleaseNumber) result {
	at, e := ms(r.At)
	if e != nil {
		return result{Err: e}
	}
	n := m.number(r.E164)
	if n == nil {
		return result{Err: errIs(ErrUnknownNumber)}
	}
	if n.state == NumberActive {
		m.retire(n.pool, n.line, at, EndReleased)
	}
	n.state = NumberReleased
	return numberResult(n)
}

func (m *model) assign(a Assign) result {
	at, e := ms(a.At)
	if e != nil {
		return result{Err: e}
	}
	p := m.poolByKey(a.PoolKey)
	if p == nil {
		return result{Err: errIs(ErrUnknownPool)}
	}
	if p.deleted() {
		return result{Err: errIs(ErrPoolDeleted)}
	}
	if v := m.liveVisit(a.Visit); v != nil {
		if v.pool != p {
			return result{Err: errIs(ErrVisitElsewhere)}
		}
		v.seen = max(v.seen, at)
		return visitResult(Sticky, v, nil)
	}
	// An Assign written before the guards against scripts is applied as it
	// was then: any click id counts, no budget, any holder may go.
	guarded := !a.Unguarded
	clickID := googleClickIDForm.MatchString
	if !guarded {
		clickID = func(s string) bool { return s != "" }
	}
	if p.settings.Tracking == TrackGCLID && !clickID(a.Attribution.GCLID) &&
		!clickID(a.Attribution.GBRAID) && !clickID(a.Attribution.WBRAID) {
		return result{Err: errIs(ErrNotGoogleClick)}
	}
	const minute = 60_000
	if _, burst := p.budget(); guarded && p.spentBy(at)+minute > burst*minute {
		return result{Outcome: OverBudget}
	}
	outcome := Fresh
	var n *mNumber
	var displaced *mVisit
	if len(p.free) > 0 {
		n = p.lines[p.takeFree(hashVisitID(a.Visit))]
	} else {
		// Recycle takes the number of the holder seen longest ago, and only
		// if that was at least DisplaceAfter ago.
		line := p.oldestHolderLine()
		if p.settings.Overflow != OverflowRecycle || line < 0 ||
			guarded && at-p.lines[line].holder.seen < int64(p.settings.DisplaceAfter/time.Millisecond) {
			return result{Outcome: Full}
		}
		outcome, n = Recycled, p.lines[line]
		displaced = m.vacate(n, at, EndDisplaced)
		p.numberless = append(p.numberless, displaced)
	}
	if guarded {
		p.spent, p.spentAt = p.spentBy(at)+minute, max(p.spentAt, at)
	}
	attr := a.Attribution
	attr.Clamp()
	v := &mVisit{
		seq: uint64(len(m.visits) + 1), id: a.Visit, pool: p, attr: &attr,
		firstSeen: at, seen: at, req: RequestID(a.Visit),
	}
	m.visits = append(m.visits, v)
	m.live = append(m.live, v)
	m.take(n, v, at, displaced)
	return visitResult(outcome, v, displaced)
}

// googleClickIDForm is what a Google click id looks like: 20 to 256
// base64url characters.
var googleClickIDForm = regexp.MustCompile(`^[A-Za-z0-9_-]{20,256}$`)

func visitResult(o Outcome, v *mVisit, displaced *mVisit) result {
	r := result{Outcome: o, Visit: v.seq}
	if v.number != nil {
		r.Number, r.NumberSeq, r.State = v.number.e164, v.number.seq, v.number.state
	}
	if displaced != nil {
		r.Displaced = displaced.seq
	}
	return r
}

func (m *model) refresh(r Refresh) result {
	at, e := ms(r.At)
	if e != nil {
		return result{Err: e}
	}
	v := m.liveVisit(r.Visit)
	if v == nil {
		return result{Err: errIs(ErrUnknownVisit)}
	}
	v.seen = max(v.seen, at)
	p := v.pool
	if v.number != nil || v.req == r.Req || p.deleted() {
		return visitResult(Sticky, v, nil)
	}
	if len(p.free) == 0 {
		return visitResult(Full, v, nil)
	}
	n := p.lines[p.takeFree(hashVisitID(VisitID(r.Req)))]
	p.removeNumberless(v)
	m.take(n, v, at, nil)
	v.req = r.Req
	return visitResult(Fresh, v, nil)
}

func (m *model) touch(ids []VisitID, t time.Time) result {
	at, e := ms(t)
	if e != nil {
		return result{}
	}
	count := 0
	for _, id := range ids {
		if v := m.liveVisit(id); v != nil {
			v.seen = max(v.seen, at)
			count++
		}
	}
	return result{Count: count}
}

func (m *model) expire(t time.Time) result {
	now, e := ms(t)
	if e != nil {
		return result{}
	}
	count := 0
	for _, p := range m.pools {
		if p.deleted() {
			continue
		}
		cutoff := now - int64(p.settings.IdleTimeout/time.Millisecond)
		var due []*mNumber
		for _, n := range p.lines {
			if n != nil && n.holder != nil && n.holder.seen <= cutoff {
				due = append(due, n)
			}
		}
		// Whoever left first frees their number first.
		slices.SortStableFunc(due, func(a, b *mNumber) int {
			if a.holder.seen != b.holder.seen {
				return compareInt64(a.holder.seen, b.holder.seen)
			}
			return a.line - b.line
		})
		for _, n := range due {
			m.end(n.holder, now, EndExpired)
			count++
		}
		for _, v := range slices.Clone(p.numberless) {
			if v.seen <= cutoff {
				m.end(v, now, EndExpired)
				count++
			}
		}
	}
	return result{Count: count}
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// match finds the visit behind a call to n at the given time, looking only
// at the two newest tenures, which is all a number remembers.
func (m *model) match(n *mNumber, at int64) (MatchKind, *mVisit, *mVisit) {
	window := int64(n.pool.settings.AttributionWindow / time.Millisecond)
	remembered := n.tenures[max(0, len(n.tenures)-2):]
	for i := len(remembered) - 1; i >= 0; i-- {
		t := remembered[i]
		if t.from > at {
			continue
		}
		kind := MatchLive
		if t.until != 0 && t.until < at {
			if at-t.until > window {
				return MatchNone, nil, nil
			}
			kind = MatchRecent
		}
		if t.displaced != nil && at-t.from <= window {
			return MatchShared, t.visit, t.displaced
		}
		return kind, t.visit, nil
	}
	return MatchNone, nil, nil
}

func (m *model) matchCall(e164 string, t time.Time) result {
	n := m.number(e164)
	if n == nil {
		return result{Match: MatchNone}
	}
	kind, v, also := m.match(n, t.UnixMilli())
	r := result{Match: kind, Number: n.e164, NumberSeq: n.seq, State: n.state}
	if v != nil {
		r.Visit = v.seq
	}
	if also != nil {
		r.Also = also.seq
	}
	return r
}

func modelSID(sid string) bool {
	if sid == "" || len(sid) > MaxCallSIDLen {
		return false
	}
	for _, c := range sid {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// statusStep orders call statuses; every final status shares the last step.
func statusStep(s CallStatus) int {
	return map[CallStatus]int{
		CallQueued: 1, CallRinging: 2, CallInProgress: 3,
		CallCompleted: 4, CallBusy: 4, CallNoAnswer: 4, CallFailed: 4, CallCanceled: 4,
	}[s]
}

func (m *model) recordCall(r RecordCall) result {
	at, e := ms(r.At)
	if e != nil {
		return result{Err: e}
	}
	if !modelSID(r.SID) {
		return result{Err: errIs(ErrBadCall)}
	}
	mc := m.call(r.SID)
	var c Call
	if mc != nil {
		if mc.c.Recorded {
			return callResult(mc.c)
		}
		c = mc.c
	} else {
		c = Call{SID: r.SID, UpdatedAt: time.UnixMilli(at).UTC()}
	}
	c.To = clampString(r.To, MaxCallPartyLen)
	c.From = clampString(r.From, MaxCallPartyLen)
	c.StartedAt = time.UnixMilli(at).UTC()
	c.Recorded = true
	if c.Status == "" || c.Status == CallQueued {
		c.Status = CallRinging
	}
	c.Match, c.PoolID, c.Visit, c.Also, c.Attribution = MatchNone, "", VisitID{}, VisitID{}, nil
	if n := m.number(c.To); n != nil {
		kind, v, also := m.match(n, at)
		c.Match, c.PoolID, c.Whisper = kind, n.pool.id, n.pool.settings.Whisper
		if v != nil {
			c.Visit, c.Attribution = v.id, v.attr
		}
		if also != nil {
			c.Also = also.id
		}
	}
	c.FirstTime = m.callers[c.From] == 0
	m.callers[c.From]++
	if mc == nil {
		mc = &mCall{}
		m.calls = append(m.calls, mc)
		m.bySID[r.SID] = mc
	}
	mc.c = c
	return callResult(c)
}

func (m *model) updateCall(u UpdateCall) result {
	at, e := ms(u.At)
	switch {
	case e != nil:
		return result{Err: e}
	case !modelSID(u.SID):
		return result{Err: errIs(ErrBadCall)}
	case statusStep(u.Status) == 0:
		return result{Err: errField("status")}
	case u.Duration < 0:
		return result{Err: errField("duration")}
	}
	mc := m.call(u.SID)
	var c Call
	if mc != nil {
		if statusStep(u.Status) <= statusStep(mc.c.Status) {
			if mc.c.AnsweredBy == "" && u.AnsweredBy != "" {
				mc.c.AnsweredBy = clampString(u.AnsweredBy, MaxCallPartyLen)
			}
			return callResult(mc.c)
		}
		c = mc.c
	} else {
		c = Call{SID: u.SID, StartedAt: time.UnixMilli(at).UTC(), Match: MatchNone}
		mc = &mCall{}
		m.calls = append(m.calls, mc)
		m.bySID[u.SID] = mc
	}
	c.Status, c.Duration = u.Status, u.Duration
	if u.AnsweredBy != "" {
		c.AnsweredBy = clampString(u.AnsweredBy, MaxCallPartyLen)
	}
	c.UpdatedAt = time.UnixMilli(at).UTC()
	mc.c = c
	return callResult(c)
}

func callResult(c Call) result { return result{Call: &c} }
