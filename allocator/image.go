package allocator

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Image is a State copied out into plain values: what a snapshot holds.
// Export makes one without changing the state; Import builds a fresh State
// from one. Times are Unix milliseconds, 0 meaning "never". Records
// reference each other by sequence number (1 and up; 0 means none).
//
// Export lists everything in a fixed order (pools, numbers and visits by
// sequence, calls oldest first), so two replicas with the same state export
// equal images.
type Image struct {
	PoolSeq, VisitSeq, NumberSeq uint64
	Pools                        []PoolRecord
	Visits                       []VisitRecord // live ones, and ended ones a number still remembers
	Numbers                      []NumberRecord
	Calls                        []CallRecord
	Marketing                    *Marketing // nil: never set, DefaultMarketing
	DefaultVoicemail             *Voicemail // nil: never set, off
	Spend                        []Spend    // by day, source, medium, campaign
	EventSeq                     uint64
	Endpoints                    []Endpoint       // by ID, each with its log
	Deliveries                   []DeliveryRecord // queued, in queue order
}

// DeliveryRecord is a queued delivery in an Image, with its event.
type DeliveryRecord struct {
	Event    Event
	Endpoint string
	Attempts int
	NextAt   int64
}

// PoolRecord is a pool in an Image.
type PoolRecord struct {
	Seq                             uint64
	ID, Key                         string
	Settings                        Settings
	CreatedAt, UpdatedAt, DeletedAt int64
	Notice                          string
	Free                            []int8   // free lines, front of the LRU list first
	Numberless                      []uint64 // live visits without a number, oldest first
	RecentReqs                      [4]RequestID
	NextReq                         uint8
	// The budget of new visits: how much was spent (in 1/60,000ths of a
	// visit) as of when; 0 and 0 for a pool whose budget was never spent.
	BudgetSpent, BudgetAt int64
	Usage                 *UsageRecord // nil for a pool that never had traffic
	History               []SizeChange
}

// VisitRecord is a visit in an Image.
type VisitRecord struct {
	Seq         uint64
	ID          VisitID
	Pool        uint64
	Attribution Attribution
	FirstSeen   int64
	Seen        int64 // last heartbeat while numberless; holders' is on their number
	Ended       int64
	Req         RequestID
}

// NumberRecord is a number in an Image.
type NumberRecord struct {
	Seq                               uint64
	E164, ProviderID                  string
	Pool                              uint64
	Owned                             bool
	AddedAt                           int64
	State                             NumberState
	Line                              int8  // -1 unless active
	Seen                              int64 // holder's last heartbeat, if held
	LastAssigned, LastFreed, Released int64
	Tenures                           []TenureRecord // newest first, at most 2
}

// TenureRecord is a tenure in an Image.
type TenureRecord struct {
	Visit       uint64
	From, Until int64
	Reason      EndReason
	Displaced   uint64
}

// CallRecord is a call in an Image.
type CallRecord struct {
	SID, To, From, PoolID string
	StartedAt, UpdatedAt  int64
	Match                 MatchKind
	Visit, Also           VisitID
	Attribution           *Attribution // nil for no match
	FirstTime             bool
	Status                CallStatus
	Duration              time.Duration
	AnsweredBy            string
	Whisper               bool
	Recorded              bool
	Worth                 Worth
	Recordings            []Recording
}

// Export copies the state into an Image. It must not run beside a write
// method. The image shares with the state only values the state never
// changes (strings, forwarding lists, call attributions), so it can be
// encoded while writes go on.
func (s *State) Export() *Image { return s.Capture().Image() }

// Capture is the part of an Image the writer may change, taken while it
// waits; Image builds the rest beside it. A snapshot holds the writer off
// only for Capture: at a million live visits, building every visit's
// record while new visits waited stalled them for seconds.
//
// Pools, numbers and their tenures are copied whole (they are few). Of a
// visit only the values a write may change (when it was last seen, when
// it ended, the request that last asked it a number) are copied with its
// pointer: the rest of a visit, and a
// call's record (replaced whole on a change, never written), stay as
// they were made, and readers may read them beside the writer.
type Capture struct {
	img    *Image
	visits []visitCapture // every visit a record names, once or more
	calls  []*Call
}

type visitCapture struct {
	v           *Visit
	seen, ended int64
	req         RequestID
}

// Capture takes what Image needs. It must not run beside a write method.
func (s *State) Capture() *Capture {
	c := &Capture{
		img:    &Image{PoolSeq: s.poolSeq, VisitSeq: s.visitSeq, NumberSeq: s.numberSeq},
		visits: make([]visitCapture, 0, s.visits.len()),
	}
	img := c.img
	keep := func(v *Visit) uint64 {
		if v == nil {
			return 0
		}
		c.visits = append(c.visits, visitCapture{v: v, seen: v.seen.Load(), ended: v.ended.Load(), req: v.req})
		return v.seq
	}
	s.poolLog.each(func(p *Pool) bool {
		v := p.view.Load()
		pr := PoolRecord{
			Seq: p.seq, ID: p.ID, Key: p.Key, Settings: v.settings,
			CreatedAt: millis(p.CreatedAt), UpdatedAt: v.updatedAt, DeletedAt: v.deletedAt, Notice: v.notice,
			Free: p.free.order(), RecentReqs: p.recentReqs, NextReq: uint8(p.nextReq),
			BudgetSpent: p.budgetSpent.Load(), BudgetAt: p.budgetAt.Load(),
			Usage: p.use.record(), History: v.history,
		}
		for nl := p.nlHead; nl != nil; nl = nl.nlNext {
			pr.Numberless = append(pr.Numberless, keep(nl))
		}
		img.Pools = append(img.Pools, pr)
		p.all.each(func(n *Number) bool {
			nr := NumberRecord{
				Seq: n.seq, E164: n.E164, ProviderID: n.ProviderID, Pool: p.seq, Owned: n.Owned,
				AddedAt: millis(n.AddedAt), State: n.State(), Line: n.line,
				LastAssigned: n.lastAssigned.Load(), LastFreed: n.lastFreed.Load(), Released: n.releasedAt.Load(),
			}
			if n.line != none {
				if nr.Seen = p.seen[n.line].Load(); nr.Seen == noHolder {
					nr.Seen = 0
				}
			}
			for _, t := range n.Tenures() {
				nr.Tenures = append(nr.Tenures, TenureRecord{
					Visit: keep(t.Visit), From: t.from, Until: t.until.Load(),
					Reason: t.Reason(), Displaced: keep(t.Displaced),
				})
			}
			img.Numbers = append(img.Numbers, nr)
			return true
		})
		return true
	})
	s.callLog.each(func(e *callEntry) bool {
		c.calls = append(c.calls, e.cur.Load())
		return true
	})
	if m := s.marketing.Load(); m != nil {
		img.Marketing = new(Marketing)
		*img.Marketing = *m
	}
	if v := s.voicemail.Load(); v != nil {
		img.DefaultVoicemail = new(Voicemail)
		*img.DefaultVoicemail = *v
	}
	s.spend.mu.RLock()
	if len(s.spend.rows) > 0 {
		img.Spend = make([]Spend, 0, len(s.spend.rows))
		for k, v := range s.spend.rows {
			img.Spend = append(img.Spend, Spend{k, v})
		}
	}
	s.spend.mu.RUnlock()
	h := &s.hooks
	h.mu.RLock()
	img.EventSeq = h.eventSeq
	for _, e := range h.endpoints {
		img.Endpoints = append(img.Endpoints, e.copy())
	}
	if len(h.pending) > 0 {
		img.Deliveries = make([]DeliveryRecord, len(h.pending))
	}
	for i, d := range h.pending {
		img.Deliveries[i] = DeliveryRecord{Event: *d.Event, Endpoint: d.Endpoint, Attempts: d.Attempts, NextAt: millis(d.NextAt)}
	}
	h.mu.RUnlock()
	return c
}

// Image builds the image the capture was taken for. It may run beside
// writes, once.
func (c *Capture) Image() *Image {
	img := c.img
	slices.SortFunc(img.Numbers, func(a, b NumberRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	slices.SortFunc(img.Spend, func(a, b Spend) int { return compareSpendKeys(a.SpendKey, b.SpendKey) })
	visits := c.visits
	slices.SortFunc(visits, func(a, b visitCapture) int { return cmp.Compare(a.v.seq, b.v.seq) })
	visits = slices.CompactFunc(visits, func(a, b visitCapture) bool { return a.v == b.v })
	img.Visits = make([]VisitRecord, len(visits))
	for i, vc := range visits {
		v := vc.v
		img.Visits[i] = VisitRecord{
			Seq: v.seq, ID: v.ID, Pool: v.Pool.seq, Attribution: *v.Attribution,
			FirstSeen: millis(v.FirstSeen), Seen: vc.seen, Ended: vc.ended, Req: vc.req,
		}
	}
	if len(c.calls) > 0 {
		img.Calls = make([]CallRecord, len(c.calls))
	}
	for i, call := range c.calls {
		img.Calls[i] = CallRecord{
			SID: call.SID, To: call.To, From: call.From, PoolID: call.PoolID,
			StartedAt: millis(call.StartedAt), UpdatedAt: millis(call.UpdatedAt),
			Match: call.Match, Visit: call.Visit, Also: call.Also, Attribution: call.Attribution,
			FirstTime: call.FirstTime, Status: call.Status, Duration: call.Duration,
			AnsweredBy: call.AnsweredBy, Whisper: call.Whisper, Recorded: call.Recorded,
			Worth: call.Worth, Recordings: call.Recordings,
		}
	}
	c.img, c.visits, c.calls = nil, nil, nil
	return img
}

// ErrCorruptImage wraps every reason Import refuses an image.
var ErrCorruptImage = errors.New("corrupt state image")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptImage, fmt.Sprintf(format, args...))
}

// Import builds a fresh State from an image, checking that the image is
// whole: every reference resolves, no number has two holders, no visit
// holds two numbers, and the free lists hold exactly the free numbers.
func Import(img *Image) (*State, error) {
	im := &importer{
		img: img, s: New(),
		pools:  make(map[uint64]*Pool, len(img.Pools)),
		visits: make(map[uint64]*Visit, len(img.Visits)),
	}
	im.s.poolSeq, im.s.visitSeq, im.s.numberSeq = img.PoolSeq, img.VisitSeq, img.NumberSeq
	// Each phase checks its records against what the phases before it
	// built: tenures name visits, a free line must have a number and no
	// holder, and the schedule reads every live visit's last heartbeat.
	for _, phase := range []func() error{
		im.addPools,
		im.addVisits,
		im.addNumbers, // with their tenures
		im.linkLists,
		im.addUsage, // from the counts the lists make
		im.scheduleExpiry,
		im.addCalls,
		im.addClusterSettings,
		im.addWebhooks,
	} {
		if err := phase(); err != nil {
			return nil, err
		}
	}
	return im.s, nil
}

// importer is Import's work in progress: the State being built from img,
// with its pools and visits by sequence number, the references records use.
type importer struct {
	img    *Image
	s      *State
	pools  map[uint64]*Pool
	visits map[uint64]*Visit
}

func (im *importer) addPools() error {
	img, s := im.img, im.s
	for i := range img.Pools {
		pr := &img.Pools[i]
		if pr.Seq == 0 || pr.Seq > img.PoolSeq || im.pools[pr.Seq] != nil {
			return corrupt("pool %q has a bad sequence number %d", pr.ID, pr.Seq)
		}
		if !validID(pr.ID) || !validID(pr.Key) || s.pools.get(pr.ID) != nil || s.poolKeys.get(pr.Key) != nil {
			return corrupt("pool %q has a bad or repeated id or key", pr.ID)
		}
		if err := pr.Settings.Validate(); err != nil {
			return corrupt("pool %q: %v", pr.ID, err)
		}
		if pr.CreatedAt <= 0 || !validMillis(pr.CreatedAt) || !validMillis(pr.UpdatedAt) || !validMillis(pr.DeletedAt) ||
			int(pr.NextReq) >= len(pr.RecentReqs) || len(pr.Notice) > MaxNoticeLen {
			return corrupt("pool %q has bad times or request ring", pr.ID)
		}
		if pr.BudgetSpent < 0 || pr.BudgetSpent > MaxVisitBurst*visitCost || !validMillis(pr.BudgetAt) {
			return corrupt("pool %q has a bad budget", pr.ID)
		}
		if !validHistory(pr.History) {
			return corrupt("pool %q has a bad size history", pr.ID)
		}
		p := newPool(pr.ID, pr.Key, pr.CreatedAt, pr.Seq)
		st := pr.Settings
		st = st.owned()
		p.view.Store(&poolView{settings: st, updatedAt: pr.UpdatedAt, deletedAt: pr.DeletedAt, notice: pr.Notice,
			history: nilIfEmpty(slices.Clone(pr.History))})
		p.recentReqs, p.nextReq = pr.RecentReqs, int(pr.NextReq)
		p.budgetSpent.Store(pr.BudgetSpent)
		p.budgetAt.Store(pr.BudgetAt)
		im.pools[pr.Seq] = p
		s.addPool(p)
	}
	return nil
}

func (im *importer) addVisits() error {
	img, s := im.img, im.s
	for i := range img.Visits {
		vr := &img.Visits[i]
		p := im.pools[vr.Pool]
		if vr.Seq == 0 || vr.Seq > img.VisitSeq || im.visits[vr.Seq] != nil || p == nil || vr.FirstSeen <= 0 ||
			!validMillis(vr.FirstSeen) || !validMillis(vr.Seen) || !validMillis(vr.Ended) {
			return corrupt("visit %s has a bad sequence number, pool or time", vr.ID)
		}
		attr := vr.Attribution
		v := &Visit{
			ID: vr.ID, Pool: p, Attribution: &attr, line: none,
			FirstSeen: fromMillis(vr.FirstSeen), seq: vr.Seq, req: vr.Req,
		}
		v.seen.Store(vr.Seen)
		v.ended.Store(vr.Ended)
		im.visits[vr.Seq] = v
		if vr.Ended == 0 {
			if s.visits.get(v.ID) != nil {
				return corrupt("visit %s is live twice", v.ID)
			}
			s.visits.put(v)
		}
	}
	return nil
}

// visitRef resolves a record's reference to a visit; 0 is none.
func (im *importer) visitRef(seq uint64) (*Visit, error) {
	if seq == 0 {
		return nil, nil
	}
	if v := im.visits[seq]; v != nil {
		return v, nil
	}
	return nil, corrupt("reference to missing visit %d", seq)
}

func (im *importer) addNumbers() error {
	img, s := im.img, im.s
	var lastSeq uint64
	inService := make(map[string]bool)
	for i := range img.Numbers {
		nr := &img.Numbers[i]
		p := im.pools[nr.Pool]
		if nr.Seq <= lastSeq || nr.Seq > img.NumberSeq || p == nil || !ValidE164(nr.E164) || nr.AddedAt <= 0 ||
			!validMillis(nr.AddedAt) || !validMillis(nr.Seen) || !validMillis(nr.LastAssigned) ||
			!validMillis(nr.LastFreed) || !validMillis(nr.Released) {
			return corrupt("number %q has a bad sequence number, pool, form or time", nr.E164)
		}
		lastSeq = nr.Seq
		// A number is bought again only after its last Number was released.
		if inService[nr.E164] {
			return corrupt("number %s is added again while in service", nr.E164)
		}
		inService[nr.E164] = nr.State != NumberReleased
		n := &Number{
			E164: nr.E164, ProviderID: nr.ProviderID, Pool: p, AddedAt: fromMillis(nr.AddedAt),
			Owned: nr.Owned, seq: nr.Seq, line: none,
		}
		n.state.Store(uint32(nr.State))
		n.lastAssigned.Store(nr.LastAssigned)
		n.lastFreed.Store(nr.LastFreed)
		n.releasedAt.Store(nr.Released)
		switch nr.State {
		case NumberActive:
			if nr.Line < 0 || int(nr.Line) >= MaxPoolSize || p.numbers[nr.Line].Load() != nil {
				return corrupt("number %s is on a bad or taken line %d", nr.E164, nr.Line)
			}
			n.line = nr.Line
			p.numbers[nr.Line].Store(n)
			p.active.Add(1)
		case NumberReleasing, NumberReleased:
			if nr.Line != none {
				return corrupt("number %s is out of service but on line %d", nr.E164, nr.Line)
			}
			if nr.State == NumberReleasing {
				p.releasing.Add(1)
			}
		default:
			return corrupt("number %s has unknown state %d", nr.E164, nr.State)
		}
		if err := im.addTenures(n, nr); err != nil {
			return err
		}
		p.all.append(n)
		s.numbers.put(n) // later sequence numbers replace earlier ones
	}
	return nil
}

// addTenures gives n the tenures it remembers; a live one makes its visit
// the holder of n's line.
func (im *importer) addTenures(n *Number, nr *NumberRecord) error {
	if len(nr.Tenures) > 2 {
		return corrupt("number %s remembers %d tenures", nr.E164, len(nr.Tenures))
	}
	for i, tr := range nr.Tenures {
		v, err := im.visitRef(tr.Visit)
		if err != nil || v == nil || v.Pool != n.Pool {
			return corrupt("number %s: tenure of a missing visit", nr.E164)
		}
		d, err := im.visitRef(tr.Displaced)
		if err != nil {
			return err
		}
		if !validMillis(tr.From) || !validMillis(tr.Until) {
			return corrupt("number %s: tenure time out of range", nr.E164)
		}
		t := &Tenure{Visit: v, Number: n, Displaced: d, from: tr.From, line: none}
		t.until.Store(tr.Until)
		t.reason.Store(uint32(tr.Reason))
		if tr.Until == 0 {
			if i != 0 || nr.State != NumberActive || tr.Reason != Holding || !v.Live() || v.line != none {
				return corrupt("number %s: bad live tenure", nr.E164)
			}
			p := n.Pool
			t.line = n.line
			p.holders[n.line].Store(v)
			if nr.Seen <= 0 {
				return corrupt("number %s: holder never seen", nr.E164)
			}
			p.seen[n.line].Store(nr.Seen)
			p.held.Add(1)
			v.line = n.line
			v.cur.Store(t)
		} else if tr.Reason == Holding || tr.Reason > EndPoolDeleted {
			return corrupt("number %s: ended tenure without a reason", nr.E164)
		}
		if i == 0 {
			n.last.Store(t)
		} else {
			n.prev.Store(t)
		}
	}
	return nil
}

// linkLists builds each pool's free list and numberless list, and checks
// that every live visit either holds a number or waits on its pool's list.
func (im *importer) linkLists() error {
	img, s := im.img, im.s
	for i := range img.Pools {
		pr := &img.Pools[i]
		p := im.pools[pr.Seq]
		for _, line := range pr.Free {
			if line < 0 || int(line) >= MaxPoolSize || p.free.in[line] ||
				p.numbers[line].Load() == nil || p.holders[line].Load() != nil {
				return corrupt("pool %q lists line %d as free", p.ID, line)
			}
			if p.free.fresh == p.free.tail && p.numbers[line].Load().lastAssigned.Load() == 0 {
				p.free.pushFresh(line)
			} else {
				p.free.pushBack(line)
			}
		}
		if int(p.free.n) != int(p.active.Load()-p.held.Load()) {
			return corrupt("pool %q: free list does not match its free numbers", p.ID)
		}
		for _, seq := range pr.Numberless {
			v := im.visits[seq]
			if v == nil || v.Pool != p || !v.Live() || v.line != none || v.nlPrev != nil || p.nlHead == v || v.seen.Load() <= 0 {
				return corrupt("pool %q lists visit %d as numberless", p.ID, seq)
			}
			s.addNumberless(v)
		}
	}
	for _, v := range im.visits {
		if v.Live() && v.line == none && v.nlPrev == nil && v.Pool.nlHead != v {
			return corrupt("live visit %s holds no number and is not waiting for one", v.ID)
		}
	}
	return nil
}

// scheduleExpiry puts every pool with live visits on the expiry heap, and
// refuses a deleted pool that still has visits or numbers.
func (im *importer) scheduleExpiry() error {
	for _, pr := range im.img.Pools {
		p := im.pools[pr.Seq]
		due := p.firstDeadline()
		if p.Deleted() && (due != noHolder || p.active.Load() != 0) {
			return corrupt("deleted pool %q has live visits or numbers in service", p.ID)
		}
		if due != noHolder {
			im.s.schedule(p, due)
		}
	}
	return nil
}

func (im *importer) addCalls() error {
	img, s := im.img, im.s
	for i := range img.Calls {
		cr := &img.Calls[i]
		if !validCallSID(cr.SID) || s.calls.get(cr.SID) != nil || !validMillis(cr.StartedAt) || !validMillis(cr.UpdatedAt) {
			return corrupt("call %q has a bad or repeated sid", cr.SID)
		}
		c := &Call{
			SID: cr.SID, To: cr.To, From: cr.From, PoolID: cr.PoolID,
			StartedAt: fromMillis(cr.StartedAt), UpdatedAt: fromMillis(cr.UpdatedAt),
			Match: cr.Match, Visit: cr.Visit, Also: cr.Also, FirstTime: cr.FirstTime,
			Status: cr.Status, Duration: cr.Duration, AnsweredBy: cr.AnsweredBy, Whisper: cr.Whisper, Recorded: cr.Recorded,
			Worth: cr.Worth, Recordings: nilIfEmpty(slices.Clone(cr.Recordings)),
		}
		if w := &c.Worth; w.Outcome != OutcomeUnset && w.Outcome != OutcomeVoicemail && !w.Outcome.Valid() || w.Value < 0 || w.Value > MaxMoney {
			return corrupt("call %q has a bad outcome or value", cr.SID)
		}
		if len(c.Recordings) > MaxRecordingsPerCall {
			return corrupt("call %q has %d recordings, more than %d", cr.SID, len(c.Recordings), MaxRecordingsPerCall)
		}
		for _, r := range c.Recordings {
			if !validRecordingSID(r.SID) || !r.Status.Valid() || r.Kind != RecordingVoicemail && r.Kind != RecordingConversation || r.Duration < 0 {
				return corrupt("call %q has a bad recording %q", cr.SID, r.SID)
			}
		}
		if cr.Attribution != nil {
			attr := *cr.Attribution
			c.Attribution = &attr
		}
		if c.Recorded {
			s.callers[c.From]++
			s.countMatch(c.Match)
		}
		s.putCall(nil, c)
	}
	return nil
}

func (im *importer) addUsage() error {
	for i := range im.img.Pools {
		pr := &im.img.Pools[i]
		if err := im.pools[pr.Seq].use.restore(im.pools[pr.Seq], pr.Usage); err != nil {
			return corrupt("usage of pool %q: %v", pr.ID, err)
		}
	}
	return nil
}

// addClusterSettings sets the marketing settings, the spend and the
// default voicemail.
func (im *importer) addClusterSettings() error {
	img, s := im.img, im.s
	if m := img.Marketing; m != nil {
		if err := m.Validate(); err != nil {
			return corrupt("marketing settings: %v", err)
		}
		mc := *m
		s.marketing.Store(&mc)
	}
	if v := img.DefaultVoicemail; v != nil {
		if err := v.validate(); err != nil || v.UseDefault {
			return corrupt("the cluster's voicemail: %v", err)
		}
		vc := *v
		s.voicemail.Store(&vc)
	}
	if len(img.Spend) > MaxSpendRows {
		return corrupt("%d days of spend, more than %d", len(img.Spend), MaxSpendRows)
	}
	if len(img.Spend) > 0 {
		s.spend.rows = make(map[SpendKey]Money, len(img.Spend))
	}
	for _, r := range img.Spend {
		if err := CheckSpendKey(r.SpendKey); err != nil || r.Cost < 0 || r.Cost > MaxMoney {
			return corrupt("a day of spend is bad: %v", err)
		}
		if _, ok := s.spend.rows[r.SpendKey]; ok {
			return corrupt("the spend of %s on %q is there twice", r.Day, r.Campaign)
		}
		s.spend.rows[r.SpendKey] = r.Cost
	}
	return nil
}

func (im *importer) addWebhooks() error {
	img, h := im.img, &im.s.hooks
	if len(img.Endpoints) > MaxEndpoints || len(img.Deliveries) > MaxPendingDeliveries {
		return corrupt("%d webhook endpoints and %d deliveries, more than a state holds", len(img.Endpoints), len(img.Deliveries))
	}
	h.eventSeq = img.EventSeq
	for i := range img.Endpoints {
		e := img.Endpoints[i].copy()
		c := SetEndpoint{ID: e.ID, Name: e.Name, URL: e.URL, Secret: e.Secret}
		if err := CheckEndpoint(c, true); err != nil || i > 0 && img.Endpoints[i-1].ID >= e.ID || len(e.Log) > MaxEndpointLog {
			return corrupt("webhook endpoint %q: out of order or bad: %v", e.ID, err)
		}
		h.endpoints = append(h.endpoints, &e)
	}
	events := map[uint64]*Event{}
	for i, d := range img.Deliveries {
		ev := events[d.Event.Seq]
		if ev == nil {
			e := d.Event
			ev = &e
			events[e.Seq] = ev
		}
		if _, ok := h.find(d.Endpoint); !ok || *ev != d.Event || ev.Seq == 0 || ev.Seq > img.EventSeq || !validMillis(d.NextAt) {
			return corrupt("webhook delivery %d names no endpoint, or a bad event", i)
		}
		if i > 0 {
			p := img.Deliveries[i-1]
			if cmp.Or(cmp.Compare(p.Event.Seq, d.Event.Seq), cmp.Compare(p.Endpoint, d.Endpoint)) >= 0 {
				return corrupt("webhook delivery %d is out of order", i)
			}
		}
		h.pending = append(h.pending, &Delivery{Event: ev, Endpoint: d.Endpoint, Attempts: d.Attempts, NextAt: fromMillis(d.NextAt)})
	}
	return nil
}
