package allocator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The property tests drive a real State and the reference model (model_test.go)
// with random operation sequences. Each sequence comes from one seed and runs
// as the subtest "seed=N", so a failure reproduces with
//
//	go test -race ./allocator/ -run 'TestName/seed=N$'

type opKind uint8

const (
	opCreatePool opKind = iota
	opAddNumber
	opUpdatePool
	opDeletePool
	opMarkRelease
	opConfirmRelease
	opAssign
	opRefresh
	opTouch
	opExpire
	opMatchCall
	opRecordCall
	opUpdateCall
	numOpKinds
)

var opNames = [numOpKinds]string{
	"CreatePool", "AddNumber", "UpdatePool", "DeletePool", "MarkRelease", "ConfirmRelease",
	"Assign", "Refresh", "Touch", "Expire", "MatchCall", "RecordCall", "UpdateCall",
}

// op is one operation, as plain values, so it can be applied to the model
// and to any number of States.
type op struct {
	kind    opKind
	create  CreatePool
	add     AddNumber
	update  UpdatePool
	del     DeletePool
	release ReleaseNumber
	assign  Assign
	refresh Refresh
	ids     []VisitID
	number  string
	record  RecordCall
	call    UpdateCall
	at      time.Time // Touch, Expire, MatchCall
}

func (o *op) String() string {
	var arg any
	switch o.kind {
	case opCreatePool:
		c := o.create
		arg = fmt.Sprintf("id=%s key=%s size=%d overflow=%s tracking=%s allocation=%s idle=%v window=%v at=%d",
			c.ID, c.Key, c.Settings.Size, c.Settings.Overflow, c.Settings.Tracking, c.Settings.Allocation,
			c.Settings.IdleTimeout, c.Settings.AttributionWindow, c.At.UnixMilli())
	case opAddNumber:
		arg = fmt.Sprintf("pool=%s e164=%s owned=%v at=%d", o.add.Pool, o.add.E164, o.add.Owned, o.add.At.UnixMilli())
	case opUpdatePool:
		pa := o.update.Patch
		var parts []string
		if pa.Size != nil {
			parts = append(parts, fmt.Sprintf("size=%d", *pa.Size))
		}
		if pa.IdleTimeout != nil {
			parts = append(parts, fmt.Sprintf("idle=%v", *pa.IdleTimeout))
		}
		if pa.Overflow != nil {
			parts = append(parts, fmt.Sprintf("overflow=%s", *pa.Overflow))
		}
		if pa.Tracking != nil {
			parts = append(parts, fmt.Sprintf("tracking=%s", *pa.Tracking))
		}
		if pa.AttributionWindow != nil {
			parts = append(parts, fmt.Sprintf("window=%v", *pa.AttributionWindow))
		}
		if pa.Allocation != nil {
			parts = append(parts, fmt.Sprintf("allocation=%s", *pa.Allocation))
		}
		arg = fmt.Sprintf("id=%s req=%x %s at=%d", o.update.ID, o.update.Req[:2], strings.Join(parts, " "), o.update.At.UnixMilli())
	case opDeletePool:
		arg = fmt.Sprintf("id=%s at=%d", o.del.ID, o.del.At.UnixMilli())
	case opMarkRelease, opConfirmRelease:
		arg = fmt.Sprintf("e164=%s at=%d", o.release.E164, o.release.At.UnixMilli())
	case opAssign:
		a := o.assign
		arg = fmt.Sprintf("visit=%x pool=%s gclid=%q at=%d", a.Visit[:4], a.PoolKey, a.Attribution.GCLID, a.At.UnixMilli())
	case opRefresh:
		arg = fmt.Sprintf("visit=%x req=%x at=%d", o.refresh.Visit[:4], o.refresh.Req[:4], o.refresh.At.UnixMilli())
	case opTouch:
		ids := make([]string, len(o.ids))
		for i, id := range o.ids {
			ids[i] = fmt.Sprintf("%x", id[:4])
		}
		arg = fmt.Sprintf("visits=%v at=%d", ids, o.at.UnixMilli())
	case opExpire:
		arg = fmt.Sprintf("at=%d", o.at.UnixMilli())
	case opMatchCall:
		arg = fmt.Sprintf("e164=%s at=%d", o.number, o.at.UnixMilli())
	case opRecordCall:
		arg = fmt.Sprintf("sid=%s to=%s from=%s at=%d", o.record.SID, o.record.To, o.record.From, o.record.At.UnixMilli())
	case opUpdateCall:
		arg = fmt.Sprintf("sid=%s status=%s at=%d", o.call.SID, o.call.Status, o.call.At.UnixMilli())
	}
	return fmt.Sprintf("%s(%v)", opNames[o.kind], arg)
}

// applyModel runs the operation on the model.
func (o *op) applyModel(m *model) result {
	switch o.kind {
	case opCreatePool:
		return m.createPool(o.create)
	case opAddNumber:
		return m.addNumber(o.add)
	case opUpdatePool:
		return m.updatePool(o.update)
	case opDeletePool:
		return m.deletePool(o.del)
	case opMarkRelease:
		return m.markRelease(o.release)
	case opConfirmRelease:
		return m.confirmRelease(o.release)
	case opAssign:
		return m.assign(o.assign)
	case opRefresh:
		return m.refresh(o.refresh)
	case opTouch:
		return m.touch(o.ids, o.at)
	case opExpire:
		return m.expire(o.at)
	case opMatchCall:
		return m.matchCall(o.number, o.at)
	case opRecordCall:
		return m.recordCall(o.record)
	case opUpdateCall:
		return m.updateCall(o.call)
	}
	panic("unknown op")
}

// applyState runs the operation on a real State.
func (o *op) applyState(s *State) result {
	switch o.kind {
	case opCreatePool:
		p, err := s.CreatePool(o.create)
		return poolResult(p, err)
	case opAddNumber:
		n, err := s.AddNumber(o.add)
		return stateNumberResult(n, err)
	case opUpdatePool:
		up, err := s.UpdatePool(o.update)
		r := poolResult(up.Pool, err)
		for _, n := range up.Retired {
			r.Retired = append(r.Retired, n.E164)
		}
		return r
	case opDeletePool:
		p, err := s.DeletePool(o.del)
		return poolResult(p, err)
	case opMarkRelease:
		n, err := s.MarkRelease(o.release)
		return stateNumberResult(n, err)
	case opConfirmRelease:
		n, err := s.ConfirmRelease(o.release)
		return stateNumberResult(n, err)
	case opAssign:
		a, err := s.Assign(o.assign)
		return assignmentResult(a, err)
	case opRefresh:
		a, err := s.Refresh(o.refresh)
		return assignmentResult(a, err)
	case opTouch:
		return result{Count: s.Touch(o.ids, o.at)}
	case opExpire:
		return result{Count: s.Expire(o.at)}
	case opMatchCall:
		m := s.MatchCall(o.number, o.at)
		r := stateNumberResult(m.Number, nil)
		r.Match, r.Visit, r.Also = m.Kind, visitSeq(m.Visit), visitSeq(m.Also)
		return r
	case opRecordCall:
		c, err := s.RecordCall(o.record)
		return stateCallResult(c, err)
	case opUpdateCall:
		c, err := s.UpdateCall(o.call)
		return stateCallResult(c, err)
	}
	panic("unknown op")
}

func poolResult(p *Pool, err error) result {
	r := result{RealErr: err}
	if p != nil {
		r.Pool, r.PoolSeq = p.ID, p.seq
	}
	return r
}

func stateNumberResult(n *Number, err error) result {
	r := result{RealErr: err}
	if n != nil {
		r.Number, r.NumberSeq, r.State = n.E164, n.seq, n.State()
	}
	return r
}

func assignmentResult(a Assignment, err error) result {
	r := stateNumberResult(a.Number, err)
	r.Outcome, r.Visit, r.Displaced = a.Outcome, visitSeq(a.Visit), visitSeq(a.Displaced)
	return r
}

func stateCallResult(c *Call, err error) result {
	r := result{RealErr: err}
	if c != nil {
		cp := *c
		r.Call = &cp
	}
	return r
}

func visitSeq(v *Visit) uint64 {
	if v == nil {
		return 0
	}
	return v.seq
}

// sameResult says how a State's result differs from the model's, if it does.
func sameResult(got, want result) error {
	if !sameErr(got.RealErr, want.Err) {
		return fmt.Errorf("error: got %v, model says %v", got.RealErr, want.Err)
	}
	same := got.Pool == want.Pool && got.PoolSeq == want.PoolSeq && got.Outcome == want.Outcome &&
		got.Visit == want.Visit && got.Number == want.Number && got.NumberSeq == want.NumberSeq &&
		got.State == want.State && got.Displaced == want.Displaced && slices.Equal(got.Retired, want.Retired) &&
		got.Count == want.Count && got.Match == want.Match && got.Also == want.Also &&
		(got.Call == nil) == (want.Call == nil)
	if same && got.Call != nil {
		same = sameCall(*got.Call, *want.Call)
	}
	if !same {
		return fmt.Errorf("result:\n  got   %s\n  model %s", formatResult(got), formatResult(want))
	}
	return nil
}

func sameErr(got error, want *mErr) bool {
	switch {
	case want == nil:
		return got == nil
	case want.is != nil:
		return errors.Is(got, want.is)
	}
	var ve *ValidationError
	return errors.As(got, &ve) && ve.Field == want.field
}

// sameCall compares two calls field by field and their attributions by value.
func sameCall(a, b Call) bool {
	aa, ba := a.Attribution, b.Attribution
	a.Attribution, b.Attribution = nil, nil
	return a == b && (aa == nil) == (ba == nil) && (aa == nil || *aa == *ba)
}

func formatResult(r result) string {
	s := fmt.Sprintf("%+v", r)
	if r.Call != nil {
		s += fmt.Sprintf(" call=%+v", *r.Call)
	}
	return s
}

// sim generates operations from the model's current state, so most of them
// name pools, numbers and visits that exist.
type sim struct {
	rng     *rand.Rand
	m       *model
	now     int64 // ms
	weights [numOpKinds]int
	total   int

	// Time steps: most small, some zero, a few jumps past idle timeouts.
	maxStep  int64
	pZero    float64
	pJump    float64
	maxPools int
	smallMix bool // pools of 4 to 8 numbers only
	callSIDs int  // how many different calls there are

	pools     int
	e164s     int
	reqs      []RequestID // update requests sent, to retry some
	refreshes []RequestID // refresh requests sent, to retry some
}

var simStart = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC).UnixMilli()

func newSim(seed uint64) *sim {
	rng := rand.New(rand.NewPCG(seed, 0x5eed_d0e5_da7a_0001))
	g := &sim{rng: rng, m: newModel(), now: simStart}
	g.maxStep = 500 + rng.Int64N(4000)
	g.pZero = 0.1 + rng.Float64()*0.2
	g.pJump = 0.005 + rng.Float64()*0.03
	g.maxPools = 1 + rng.IntN(4)
	g.smallMix = rng.IntN(4) != 0
	g.callSIDs = 40
	g.setWeights(map[opKind]int{
		opCreatePool:     1,
		opAddNumber:      5 + rng.IntN(10),
		opUpdatePool:     2 + rng.IntN(5),
		opDeletePool:     rng.IntN(2),
		opMarkRelease:    1 + rng.IntN(2),
		opConfirmRelease: 1 + rng.IntN(3),
		opAssign:         15 + rng.IntN(30),
		opRefresh:        5 + rng.IntN(10),
		opTouch:          10 + rng.IntN(20),
		opExpire:         3 + rng.IntN(8),
		opMatchCall:      5 + rng.IntN(6),
		opRecordCall:     3 + rng.IntN(4),
		opUpdateCall:     2 + rng.IntN(3),
	})
	return g
}

func (g *sim) setWeights(w map[opKind]int) {
	g.weights = [numOpKinds]int{}
	g.total = 0
	for k, n := range w {
		g.weights[k] = n
		g.total += n
	}
}

func (g *sim) time() time.Time { return time.UnixMilli(g.now).UTC() }

func (g *sim) advance() {
	switch r := g.rng.Float64(); {
	case r < g.pZero:
	case r < g.pZero+g.pJump:
		g.now += 30_000 + g.rng.Int64N(400_000)
	default:
		g.now += 1 + g.rng.Int64N(g.maxStep)
	}
}

func (g *sim) chance(p float64) bool { return g.rng.Float64() < p }

func (g *sim) visitID() VisitID {
	var id VisitID
	for id.IsZero() {
		for i := range id {
			id[i] = byte(g.rng.UintN(256))
		}
	}
	return id
}

func (g *sim) reqID() RequestID { return RequestID(g.visitID()) }

// next advances the clock and returns the next operation.
func (g *sim) next() op {
	g.advance()
	if len(g.m.pools) == 0 {
		return g.createPool()
	}
	n := g.rng.IntN(g.total)
	kind := opKind(0)
	for ; n >= g.weights[kind]; kind++ {
		n -= g.weights[kind]
	}
	switch kind {
	case opCreatePool:
		if g.livePools() >= g.maxPools && !g.chance(0.1) {
			return g.touch()
		}
		return g.createPool()
	case opAddNumber:
		if !g.shortPool() && !g.chance(0.2) {
			return g.touch()
		}
		return g.addNumber()
	case opUpdatePool:
		return g.updatePool(g.chance(0.7), true)
	case opDeletePool:
		if g.chance(0.2) {
			return op{kind: opDeletePool, del: DeletePool{ID: g.pool().id, At: g.time()}}
		}
		return g.expire()
	case opMarkRelease, opConfirmRelease:
		return op{kind: kind, release: ReleaseNumber{E164: g.knownE164(), At: g.time()}}
	case opAssign:
		return g.assign()
	case opRefresh:
		return g.refresh()
	case opTouch:
		return g.touch()
	case opExpire:
		return g.expire()
	case opMatchCall:
		return g.matchCall()
	case opRecordCall:
		return g.recordCall()
	case opUpdateCall:
		return g.updateCall()
	}
	panic("unreachable")
}

func (g *sim) settings() Settings {
	s := Settings{
		Name:              fmt.Sprintf("pool %d", g.pools),
		Size:              4 + g.rng.IntN(5),
		SwapTarget:        "(415) 555-0100",
		ForwardTo:         []string{"+14155550100"},
		IdleTimeout:       time.Duration(90+g.rng.IntN(211)) * time.Second,
		AttributionWindow: time.Duration(60+g.rng.IntN(2400)) * time.Second,
		Whisper:           g.chance(0.5),
	}
	if !g.smallMix && g.chance(0.3) {
		s.Size = MinPoolSize + g.rng.IntN(MaxPoolSize-MinPoolSize+1)
	}
	if g.chance(0.25) {
		s.Overflow = OverflowNone
	}
	if g.chance(0.25) {
		s.Tracking = TrackGCLID
	}
	if g.chance(0.3) {
		s.Allocation = AllocateRandom
	}
	return s.WithDefaults()
}

func (g *sim) createPool() op {
	c := CreatePool{At: g.time()}
	switch {
	case len(g.m.pools) > 0 && g.chance(0.15):
		// A retry, or a clash of id or key.
		p := g.pool()
		c.ID, c.Key = p.id, p.key
		switch g.rng.IntN(3) {
		case 1:
			c.Key = fmt.Sprintf("k%d", g.pools+1)
		case 2:
			c.ID = fmt.Sprintf("p%d", g.pools+1)
		}
		c.Settings = p.settings
	default:
		g.pools++
		c.ID, c.Key = fmt.Sprintf("p%d", g.pools), fmt.Sprintf("k%d", g.pools)
		c.Settings = g.settings()
		if g.chance(0.03) {
			c.Settings.Size = MaxPoolSize + 1
		}
	}
	return op{kind: opCreatePool, create: c}
}

func (g *sim) pool() *mPool { return g.m.pools[g.rng.IntN(len(g.m.pools))] }

func (g *sim) livePools() int {
	n := 0
	for _, p := range g.m.pools {
		if !p.deleted() {
			n++
		}
	}
	return n
}

// shortPool reports whether some pool has fewer numbers than its size.
func (g *sim) shortPool() bool {
	for _, p := range g.m.pools {
		if !p.deleted() && p.active() < p.settings.Size {
			return true
		}
	}
	return false
}

// livePool prefers a pool that is not deleted.
func (g *sim) livePool() *mPool {
	n := g.livePools()
	if n == 0 || g.chance(0.02) {
		return g.pool()
	}
	k := g.rng.IntN(n)
	for _, p := range g.m.pools {
		if !p.deleted() {
			if k == 0 {
				return p
			}
			k--
		}
	}
	panic("unreachable")
}

func (g *sim) newE164() string {
	g.e164s++
	return fmt.Sprintf("+1415555%04d", g.e164s)
}

func (g *sim) knownE164() string {
	if len(g.m.numbers) == 0 || g.chance(0.03) {
		return "+19995550000"
	}
	return g.m.numbers[g.rng.IntN(len(g.m.numbers))].e164
}

func (g *sim) addNumber() op {
	a := AddNumber{At: g.time(), E164: g.newE164()}
	// Mostly the provisioner filling a pool below its size.
	var short []*mPool
	for _, p := range g.m.pools {
		if !p.deleted() && p.active() < p.settings.Size {
			short = append(short, p)
		}
	}
	if len(short) > 0 && g.chance(0.85) {
		a.Pool = short[g.rng.IntN(len(short))].id
	} else {
		a.Pool = g.pool().id
	}
	a.ProviderID = "PN" + a.E164[1:]
	switch r := g.rng.Float64(); {
	case r < 0.08 && len(g.m.numbers) > 0:
		a.E164 = g.knownE164()
	case r < 0.11:
		a.Owned = true
	case r < 0.12:
		a.E164 = "555-0100"
	case r < 0.13:
		a.Pool = "nope"
	}
	return op{kind: opAddNumber, add: a}
}

// updatePool changes a pool's size (shrinking more often than not when
// sized) and now and then other settings.
func (g *sim) updatePool(sized, others bool) op {
	p := g.livePool()
	u := UpdatePool{ID: p.id, At: g.time()}
	switch r := g.rng.Float64(); {
	case r < 0.1 && len(g.reqs) > 0:
		u.Req = g.reqs[len(g.reqs)-1-g.rng.IntN(min(len(g.reqs), 6))]
	case r < 0.13:
	default:
		u.Req = g.reqID()
		g.reqs = append(g.reqs, u.Req)
	}
	if sized {
		size := p.settings.Size + g.rng.IntN(7) - 4
		if g.chance(0.03) {
			size = MinPoolSize - 1
		}
		size = min(max(size, MinPoolSize-1), MaxPoolSize)
		if size < MinPoolSize && !g.chance(0.1) {
			size = MinPoolSize
		}
		u.Patch.Size = &size
	}
	if others {
		if g.chance(0.15) {
			idle := time.Duration(90+g.rng.IntN(211)) * time.Second
			u.Patch.IdleTimeout = &idle
		}
		if g.chance(0.1) {
			o := OverflowRecycle
			if g.chance(0.5) {
				o = OverflowNone
			}
			u.Patch.Overflow = &o
		}
		if g.chance(0.1) {
			t := TrackAll
			if g.chance(0.4) {
				t = TrackGCLID
			}
			u.Patch.Tracking = &t
		}
		if g.chance(0.1) {
			w := time.Duration(60+g.rng.IntN(2400)) * time.Second
			u.Patch.AttributionWindow = &w
		}
		if g.chance(0.1) {
			a := AllocateLRU
			if g.chance(0.5) {
				a = AllocateRandom
			}
			u.Patch.Allocation = &a
		}
	}
	return op{kind: opUpdatePool, update: u}
}

var (
	sources   = []string{"", "google", "facebook", "bing"}
	campaigns = []string{"c0", "c1", "c2", "c3", "c4"}
)

func (g *sim) attribution() Attribution {
	var a Attribution
	n := strconv.Itoa(g.rng.IntN(1000))
	switch g.rng.IntN(7) {
	case 0, 1:
		a.GCLID = "gclid" + n
	case 2:
		a.GBRAID = "gbraid" + n
	case 3:
		a.WBRAID = "wbraid" + n
	case 4:
		a.FBCLID = "fbclid" + n
	}
	a.Source = sources[g.rng.IntN(len(sources))]
	a.Campaign = campaigns[g.rng.IntN(len(campaigns))]
	if g.chance(0.02) {
		a.Term = strings.Repeat("é", MaxUTMLen) // cut to fit
	}
	return a
}

func (g *sim) liveVisit() *mVisit {
	if len(g.m.live) == 0 {
		return nil
	}
	return g.m.live[g.rng.IntN(len(g.m.live))]
}

func (g *sim) assign() op {
	a := Assign{Visit: g.visitID(), PoolKey: g.livePool().key, Attribution: g.attribution(), At: g.time()}
	switch r := g.rng.Float64(); {
	case r < 0.1:
		if v := g.liveVisit(); v != nil {
			a.Visit = v.id
			if g.chance(0.9) {
				a.PoolKey = v.pool.key
			}
		}
	case r < 0.12 && len(g.m.visits) > 0:
		a.Visit = g.m.visits[g.rng.IntN(len(g.m.visits))].id
	case r < 0.125:
		a.PoolKey = "nope"
	case r < 0.128:
		a.At = time.Time{}
	}
	return op{kind: opAssign, assign: a}
}

func (g *sim) refresh() op {
	r := Refresh{Visit: g.visitID(), Req: g.reqID(), At: g.time()}
	var v *mVisit
	var numberless []*mVisit
	for _, w := range g.m.live {
		if w.number == nil {
			numberless = append(numberless, w)
		}
	}
	if len(numberless) > 0 && g.chance(0.7) {
		v = numberless[g.rng.IntN(len(numberless))]
	} else if !g.chance(0.05) {
		v = g.liveVisit()
	}
	if v != nil {
		r.Visit = v.id
	}
	switch x := g.rng.Float64(); {
	case x < 0.1:
		r.Req = RequestID(r.Visit)
	case x < 0.2 && len(g.refreshes) > 0:
		r.Req = g.refreshes[len(g.refreshes)-1-g.rng.IntN(min(len(g.refreshes), 4))]
	default:
		g.refreshes = append(g.refreshes, r.Req)
	}
	return op{kind: opRefresh, refresh: r}
}

func (g *sim) touch() op {
	o := op{kind: opTouch, at: g.time()}
	if g.chance(0.05) {
		o.at = time.UnixMilli(g.now - g.rng.Int64N(10_000)).UTC() // a late batch
	}
	for range 1 + g.rng.IntN(8) {
		switch r := g.rng.Float64(); {
		case r < 0.8 && len(g.m.live) > 0:
			o.ids = append(o.ids, g.liveVisit().id)
		case r < 0.9 && len(g.m.visits) > 0:
			o.ids = append(o.ids, g.m.visits[g.rng.IntN(len(g.m.visits))].id)
		case len(o.ids) > 0:
			o.ids = append(o.ids, o.ids[0])
		default:
			o.ids = append(o.ids, g.visitID())
		}
	}
	return o
}

func (g *sim) expire() op { return op{kind: opExpire, at: g.time()} }

// callTime is now, or a while ago: a call recorded or looked up late.
func (g *sim) callTime() time.Time {
	if g.chance(0.3) {
		return time.UnixMilli(max(1, g.now-g.rng.Int64N(45*60_000))).UTC()
	}
	return g.time()
}

func (g *sim) matchCall() op {
	return op{kind: opMatchCall, number: g.calledE164(), at: g.callTime()}
}

// calledE164 is most often a number in service.
func (g *sim) calledE164() string {
	if g.chance(0.7) {
		p := g.livePool()
		var in []string
		for _, n := range p.lines {
			if n != nil {
				in = append(in, n.e164)
			}
		}
		if len(in) > 0 {
			return in[g.rng.IntN(len(in))]
		}
	}
	return g.knownE164()
}

func (g *sim) callSID() string {
	if g.chance(0.01) {
		return "CA-bad"
	}
	return "CA" + strconv.Itoa(g.rng.IntN(g.callSIDs))
}

func (g *sim) recordCall() op {
	return op{kind: opRecordCall, record: RecordCall{
		SID: g.callSID(), To: g.calledE164(), From: "+121255500" + strconv.Itoa(10+g.rng.IntN(8)), At: g.callTime(),
	}}
}

var callStatuses = []CallStatus{
	CallQueued, CallRinging, CallInProgress, CallCompleted, CallBusy, CallNoAnswer, CallFailed, CallCanceled,
}

func (g *sim) updateCall() op {
	u := UpdateCall{
		SID: g.callSID(), Status: callStatuses[g.rng.IntN(len(callStatuses))],
		Duration: time.Duration(g.rng.IntN(600)) * time.Second, AnsweredBy: "+14155550100", At: g.time(),
	}
	switch r := g.rng.Float64(); {
	case r < 0.02:
		u.Status = "lost"
	case r < 0.04:
		u.Duration = -time.Second
	}
	return op{kind: opUpdateCall, call: u}
}

// run is one random sequence: the model, the State under test and any
// other States fed the same operations.
type run struct {
	t    *testing.T
	seed uint64
	g    *sim
	s    *State
	ops  int
	i    int // index of the operation being applied
	o    op
}

func newRun(t *testing.T, seed uint64) *run {
	g := newSim(seed)
	return &run{t: t, seed: seed, g: g, s: New(), ops: 500 + g.rng.IntN(1501)}
}

// fatalf fails the sequence, saying how to reproduce it.
func (r *run) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("seed %d, op %d %s: %s\nrerun: go test -race ./allocator/ -run '%s$'",
		r.seed, r.i, r.o.String(), fmt.Sprintf(format, args...), r.t.Name())
}

// step applies o to the model and to each State, checking that every State
// says what the model says. It returns the first State's result.
func (r *run) step(i int, o op, states ...*State) result {
	r.i, r.o = i, o
	want := o.applyModel(r.g.m)
	var first result
	for k, s := range states {
		got := o.applyState(s)
		if err := sameResult(got, want); err != nil {
			r.fatalf("state %d disagrees with the model: %v", k, err)
		}
		if k == 0 {
			first = got
		}
	}
	return first
}

// forSeeds runs fn for seeds 1..n, each as a parallel subtest.
func forSeeds(t *testing.T, n int, fn func(t *testing.T, seed uint64)) {
	t.Helper()
	if testing.Short() {
		n = max(1, n/10)
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			fn(t, seed)
		})
	}
}

// TestStateAgreesWithReferenceModel is the broad property: on random
// sequences of every operation, each result of the real State is the
// model's, and so is the whole state, checked every so often and at the end.
func TestStateAgreesWithReferenceModel(t *testing.T) {
	forSeeds(t, 300, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		for i := range r.ops {
			r.step(i, r.g.next(), r.s)
			if i%256 == 255 {
				r.checkState(r.s)
			}
		}
		r.checkState(r.s)
	})
}

// TestLongSequencesAgreeWithReferenceModel runs a few long sequences with
// many calls, so that the State's tables grow and shrink many times and its
// logs span several chunks.
func TestLongSequencesAgreeWithReferenceModel(t *testing.T) {
	forSeeds(t, 2, func(t *testing.T, seed uint64) {
		r := newRun(t, 1000+seed)
		r.g.callSIDs = 3000
		r.g.maxPools = 6
		r.ops = 10_000
		for i := range r.ops {
			r.step(i, r.g.next(), r.s)
			if i%1000 == 999 {
				r.checkState(r.s)
			}
		}
		r.checkState(r.s)
		if n := len(r.g.m.calls); n <= logChunkSize {
			r.fatalf("only %d calls", n)
		}
		r.roundTrip(r.s.Export())
	})
}

// TestNoNumberEverHasTwoLiveHolders checks, after every operation and in
// both the State and the model, that a number has at most one live holder,
// that no visit holds two numbers, and that holder and number agree.
func TestNoNumberEverHasTwoLiveHolders(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		holding := make(map[*Visit]*Number)
		for i := range r.ops {
			r.step(i, r.g.next(), r.s)
			// Every line of every pool now and then; the lines the model
			// uses after every operation.
			lines := MaxPoolSize
			if i%32 != 31 {
				lines = r.g.m.linesUsed()
			}
			if err := oneHolderInState(r.s, lines, lines == MaxPoolSize, holding); err != nil {
				r.fatalf("state: %v", err)
			}
			if err := oneHolderInModel(r.g.m); err != nil {
				r.fatalf("model: %v", err)
			}
		}
		if err := oneHolderInState(r.s, MaxPoolSize, true, holding); err != nil {
			r.fatalf("state: %v", err)
		}
	})
}

// oneHolderInState checks the first lines of every pool, and with all set
// every number the State ever had. It uses holding as scratch space.
func oneHolderInState(s *State, lines int, all bool, holding map[*Visit]*Number) error {
	clear(holding)
	for _, p := range s.Pools() {
		for line := range lines {
			n := p.numbers[line].Load()
			h := p.holders[line].Load()
			if n == nil {
				if h != nil {
					return fmt.Errorf("pool %s line %d: holder %s and no number", p.ID, line, h.ID)
				}
				continue
			}
			if n.Holder() != h {
				return fmt.Errorf("pool %s line %d: number %s says its holder is %v, line says %v",
					p.ID, line, n.E164, visitSeq(n.Holder()), visitSeq(h))
			}
			if h == nil {
				continue
			}
			if other := holding[h]; other != nil {
				return fmt.Errorf("visit %d holds %s and %s", h.seq, other.E164, n.E164)
			}
			holding[h] = n
			if !h.Live() || s.Visit(h.ID) != h {
				return fmt.Errorf("number %s is held by visit %d, which is not live", n.E164, h.seq)
			}
			if h.Number() != n || int(h.line) != line {
				return fmt.Errorf("number %s is held by visit %d, which says it holds %v on line %d",
					n.E164, h.seq, h.Number(), h.line)
			}
		}
		if all {
			for _, n := range p.Numbers() {
				h := n.Holder()
				if h == nil {
					continue
				}
				if holding[h] != n {
					return fmt.Errorf("number %s (%s) names visit %d as its live holder, which holds %v",
						n.E164, n.State(), h.seq, holding[h])
				}
			}
		}
	}
	return nil
}

// linesUsed is one more than the highest line with a number in any pool.
func (m *model) linesUsed() int {
	n := 0
	for _, p := range m.pools {
		for line := len(p.lines) - 1; line >= n; line-- {
			if p.lines[line] != nil {
				n = line + 1
			}
		}
	}
	return n
}

func oneHolderInModel(m *model) error {
	holding := make(map[*mVisit]*mNumber)
	for _, p := range m.pools {
		for line, n := range p.lines {
			if n == nil || n.holder == nil {
				continue
			}
			h := n.holder
			if other := holding[h]; other != nil {
				return fmt.Errorf("visit %d holds %s and %s", h.seq, other.e164, n.e164)
			}
			holding[h] = n
			if h.ended != 0 || h.number != n || n.line != line {
				return fmt.Errorf("number %s and its holder %d disagree", n.e164, h.seq)
			}
		}
	}
	for _, n := range m.numbers {
		if n.holder != nil && holding[n.holder] != n {
			return fmt.Errorf("number %s (%s) has holder %d off the lines", n.e164, n.state, n.holder.seq)
		}
	}
	for _, v := range m.live {
		if v.number != nil && holding[v] != v.number {
			return fmt.Errorf("visit %d says it holds %s, which does not say so", v.seq, v.number.e164)
		}
	}
	return nil
}

// TestFreshNumberIsTheOneFreeTheLongest: whenever a visit gets a free
// number (Assign or Refresh) in an LRU pool, it is the number that has been
// free the longest. Numbers nobody ever held count as free the longest of
// all, oldest first. The expectation is an O(n) search over the pool's free
// numbers, not the model's list, and the State's own LastFreed times must
// agree with it. Random pools are the model's to check.
func TestFreshNumberIsTheOneFreeTheLongest(t *testing.T) {
	forSeeds(t, 30, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		fresh := 0
		for i := range r.ops {
			o := r.g.next()
			var want *mNumber
			var free []freeNumber
			p := r.targetPool(o)
			lru := p != nil && p.settings.Allocation == AllocateLRU
			if lru {
				for _, n := range p.lines {
					if n == nil || n.holder != nil {
						continue
					}
					if want == nil || n.freed < want.freed || n.freed == want.freed && n.seq < want.seq {
						want = n
					}
				}
				free = freeNumbers(r.s.Pool(p.id))
			}
			res := r.step(i, o, r.s)
			if res.Outcome != Fresh || !lru {
				continue
			}
			fresh++
			if want == nil || res.Number != want.e164 || res.NumberSeq != want.seq {
				r.fatalf("fresh assignment got %s (seq %d), the number free the longest is %s", res.Number, res.NumberSeq, want.describe())
			}
			k := slices.IndexFunc(free, func(f freeNumber) bool { return f.seq == res.NumberSeq })
			if k < 0 {
				r.fatalf("fresh assignment got %s, which was not free", res.Number)
			}
			for _, f := range free {
				if f.before(free[k]) {
					r.fatalf("fresh assignment got %+v while %+v had been free longer", free[k], f)
				}
			}
		}
		if r.ops >= 1000 && fresh == 0 {
			r.fatalf("no fresh assignment in %d operations", r.ops)
		}
	})
}

func (n *mNumber) describe() string {
	if n == nil {
		return "none"
	}
	return fmt.Sprintf("%s (seq %d, freed #%d)", n.e164, n.seq, n.freed)
}

// freeNumber is what a State says about one of its free numbers.
type freeNumber struct {
	e164            string
	seq             uint64
	assigned, freed int64
}

// before reports whether f has surely been free longer than g: f was never
// held and g was, or both were never held and f was added first, or f was
// freed at an earlier time.
func (f freeNumber) before(g freeNumber) bool {
	switch fNever, gNever := f.assigned == 0, g.assigned == 0; {
	case fNever != gNever:
		return fNever
	case fNever:
		return f.seq < g.seq
	}
	return f.freed < g.freed
}

func freeNumbers(p *Pool) []freeNumber {
	var out []freeNumber
	for line := range p.numbers {
		if n := p.numbers[line].Load(); n != nil && n.Holder() == nil {
			out = append(out, freeNumber{n.E164, n.seq, timeMillis(n.LastAssigned()), timeMillis(n.LastFreed())})
		}
	}
	return out
}

// targetPool is the pool an Assign or Refresh asks a number of, in the model.
func (r *run) targetPool(o op) *mPool {
	switch o.kind {
	case opAssign:
		return r.g.m.poolByKey(o.assign.PoolKey)
	case opRefresh:
		if v := r.g.m.liveVisit(o.refresh.Visit); v != nil {
			return v.pool
		}
	}
	return nil
}

// TestTouchedVisitsNeverExpire: in a workload where every live visit gets a
// heartbeat at least every half idle timeout, Expire ends no visit, and a
// visit loses its number to a newcomer only when its pool has no free one.
func TestTouchedVisitsNeverExpire(t *testing.T) {
	forSeeds(t, 16, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		g := r.g
		g.pJump, g.maxStep = 0, min(g.maxStep, 3000)
		g.setWeights(map[opKind]int{
			opCreatePool: 1, opAddNumber: 6, opAssign: 25, opRefresh: 8, opExpire: 8, opMatchCall: 3,
		})
		expired := 0
		for i := range r.ops {
			o := g.next()
			// Before the clock passes a third of any visit's idle timeout
			// since its last heartbeat, the visitor's batch arrives.
			var due []VisitID
			for _, v := range g.m.live {
				if g.now-v.seen >= int64(v.pool.settings.IdleTimeout/time.Millisecond)/3 {
					due = append(due, v.id)
				}
			}
			if len(due) > 0 {
				o = op{kind: opTouch, ids: due, at: g.time()}
			}
			var free int
			if p := r.targetPool(o); p != nil {
				if sp := r.s.Pool(p.id); sp != nil {
					free = sp.Counts().Free
				}
			}
			live := len(g.m.live)
			res := r.step(i, o, r.s)
			switch {
			case o.kind == opExpire && res.Count != 0:
				r.fatalf("Expire ended %d visits that had heartbeats", res.Count)
			case res.Outcome == Recycled && free > 0:
				r.fatalf("visit %d was displaced while the pool had %d free numbers", res.Displaced, free)
			case o.kind == opRefresh && res.Displaced != 0:
				r.fatalf("Refresh displaced visit %d", res.Displaced)
			case len(g.m.live) < live:
				r.fatalf("%d live visits ended", live-len(g.m.live))
			}
			if o.kind == opExpire {
				expired++
			}
			if i%256 == 255 {
				r.checkState(r.s)
			}
		}
		for _, v := range g.m.live {
			if sv := r.s.Visit(v.id); sv == nil || !sv.Live() {
				r.fatalf("visit %d ended in the State", v.seq)
			}
		}
		r.checkState(r.s)
		if expired == 0 && r.ops > 1000 {
			r.fatalf("the workload never called Expire")
		}
	})
}

// TestShrinkRetiresFreeNumbersFirstThenLeastRecentlySeen: a smaller size
// takes free numbers out of service first, from the front of the free list,
// then held ones by their holder's oldest heartbeat (lowest line on a tie);
// the holders stay live without a number.
func TestShrinkRetiresFreeNumbersFirstThenLeastRecentlySeen(t *testing.T) {
	forSeeds(t, 30, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		g := r.g
		g.weights[opUpdatePool] += 6
		g.total += 6
		shrinks := 0
		for i := range r.ops {
			o := g.next()
			if o.kind == opUpdatePool && g.chance(0.8) {
				o = g.updatePool(true, false)
			}
			var want []string
			var holders []*Visit
			if o.kind == opUpdatePool && o.update.Patch.Size != nil {
				want, holders = expectedShrink(r.s.Pool(o.update.ID), *o.update.Patch.Size)
			}
			res := r.step(i, o, r.s)
			if len(res.Retired) == 0 {
				continue
			}
			shrinks++
			if !slices.Equal(res.Retired, want) {
				r.fatalf("shrink retired %v, want %v", res.Retired, want)
			}
			for _, v := range holders {
				if !v.Live() || v.Number() != nil || r.s.Visit(v.ID) != v {
					r.fatalf("holder %d of a retired number is not live and numberless", v.seq)
				}
			}
			for _, e := range res.Retired {
				if n := r.s.Number(e); n.State() != NumberReleasing || n.Holder() != nil {
					r.fatalf("retired number %s is %s with holder %v", e, n.State(), visitSeq(n.Holder()))
				}
			}
		}
		r.checkState(r.s)
		if shrinks == 0 && r.ops > 1000 {
			r.fatalf("no shrink in %d operations", r.ops)
		}
	})
}

// expectedShrink works out from a State's pool which numbers shrinking it to
// size takes out of service, and the visits holding them.
func expectedShrink(p *Pool, size int) ([]string, []*Visit) {
	if p == nil {
		return nil, nil
	}
	k := int(p.active.Load()) - size
	if k <= 0 {
		return nil, nil
	}
	var out []string
	for _, line := range p.free.order() {
		if len(out) == k {
			return out, nil
		}
		out = append(out, p.numbers[line].Load().E164)
	}
	type holding struct {
		line int
		seen int64
		v    *Visit
	}
	var held []holding
	for line := range p.holders {
		if v := p.holders[line].Load(); v != nil {
			held = append(held, holding{line, v.LastSeen().UnixMilli(), v})
		}
	}
	slices.SortFunc(held, func(a, b holding) int {
		if a.seen != b.seen {
			return compareInt64(a.seen, b.seen)
		}
		return a.line - b.line
	})
	var holders []*Visit
	for _, h := range held[:k-len(out)] {
		out = append(out, p.numbers[h.line].Load().E164)
		holders = append(holders, h.v)
	}
	return out, holders
}

// TestImportOfExportIsTheSameState: at random points of random sequences,
// Export, Import and Export again gives an equal Image, and the imported
// State then answers every remaining operation as the original does.
func TestImportOfExportIsTheSameState(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		states := []*State{r.s}
		for i := range r.ops {
			r.step(i, r.g.next(), states...)
			if !r.g.chance(1.0/300) && i != r.ops/2 {
				continue
			}
			img := r.s.Export()
			c := r.roundTrip(img)
			if len(states) == 3 {
				states = slices.Delete(states, 1, 2) // keep the two newest copies
			}
			states = append(states, c)
		}
		r.checkState(r.s)
		want := r.s.Export()
		r.roundTrip(want)
		for k, s := range states[1:] {
			r.checkState(s)
			if got := s.Export(); !reflect.DeepEqual(got, want) {
				r.fatalf("imported state %d ended different from the original: %s", k+1, imageDiff(got, want))
			}
		}
	})
}

// roundTrip imports img and checks that the new State exports it unchanged.
func (r *run) roundTrip(img *Image) *State {
	r.t.Helper()
	s, err := Import(img)
	if err != nil {
		r.fatalf("Import of an exported image: %v", err)
	}
	if again := s.Export(); !reflect.DeepEqual(again, img) {
		r.fatalf("Export after Import differs: %s", imageDiff(again, img))
	}
	if again := r.s.Export(); !reflect.DeepEqual(again, img) {
		r.fatalf("exporting twice gave different images: %s", imageDiff(again, img))
	}
	return s
}

// TestSameOperationsGiveSameImage: two States fed the same operations
// export equal Images, at many points along the way.
func TestSameOperationsGiveSameImage(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		twin := New()
		for i := range r.ops {
			r.step(i, r.g.next(), r.s, twin)
			if i%200 == 199 || i == r.ops-1 {
				if a, b := r.s.Export(), twin.Export(); !reflect.DeepEqual(a, b) {
					r.fatalf("the two States export different images: %s", imageDiff(a, b))
				}
			}
		}
	})
}

// imageDiff names the first part of two images that differs.
func imageDiff(a, b *Image) string {
	switch {
	case a.PoolSeq != b.PoolSeq || a.VisitSeq != b.VisitSeq || a.NumberSeq != b.NumberSeq:
		return fmt.Sprintf("sequences %d/%d/%d vs %d/%d/%d", a.PoolSeq, a.VisitSeq, a.NumberSeq, b.PoolSeq, b.VisitSeq, b.NumberSeq)
	case len(a.Pools) != len(b.Pools) || len(a.Visits) != len(b.Visits) ||
		len(a.Numbers) != len(b.Numbers) || len(a.Calls) != len(b.Calls):
		return fmt.Sprintf("lengths %d/%d/%d/%d vs %d/%d/%d/%d",
			len(a.Pools), len(a.Visits), len(a.Numbers), len(a.Calls),
			len(b.Pools), len(b.Visits), len(b.Numbers), len(b.Calls))
	}
	for i := range a.Pools {
		if !reflect.DeepEqual(a.Pools[i], b.Pools[i]) {
			return fmt.Sprintf("pool %d:\n  %+v\n  %+v", i, a.Pools[i], b.Pools[i])
		}
	}
	for i := range a.Visits {
		if !reflect.DeepEqual(a.Visits[i], b.Visits[i]) {
			return fmt.Sprintf("visit %d:\n  %+v\n  %+v", i, a.Visits[i], b.Visits[i])
		}
	}
	for i := range a.Numbers {
		if !reflect.DeepEqual(a.Numbers[i], b.Numbers[i]) {
			return fmt.Sprintf("number %d:\n  %+v\n  %+v", i, a.Numbers[i], b.Numbers[i])
		}
	}
	for i := range a.Calls {
		if !reflect.DeepEqual(a.Calls[i], b.Calls[i]) {
			return fmt.Sprintf("call %d:\n  %+v\n  %+v", i, a.Calls[i], b.Calls[i])
		}
	}
	return "no difference found"
}

// checkState compares the whole of a State with the model.
func (r *run) checkState(s *State) {
	r.t.Helper()
	if err := compareState(s, r.g.m); err != nil {
		r.fatalf("state differs from the model: %v", err)
	}
}

func timeMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func compareState(s *State, m *model) error {
	pools := s.Pools()
	if len(pools) != len(m.pools) {
		return fmt.Errorf("%d pools, model has %d", len(pools), len(m.pools))
	}
	liveNumbers := make(map[string]*mNumber)
	for _, n := range m.numbers {
		liveNumbers[n.e164] = n
	}
	for i, p := range pools {
		if err := comparePool(s, p, m.pools[i]); err != nil {
			return fmt.Errorf("pool %s: %w", p.ID, err)
		}
	}
	for e, n := range liveNumbers {
		if got := s.Number(e); got == nil || got.seq != n.seq {
			return fmt.Errorf("Number(%s) is not the newest number", e)
		}
	}
	live := make(map[VisitID]*mVisit)
	for _, v := range m.live {
		live[v.id] = v
	}
	if got := s.visits.len(); got != len(live) {
		return fmt.Errorf("%d live visits, model has %d", got, len(live))
	}
	for _, v := range m.visits {
		sv := s.Visit(v.id)
		w := live[v.id]
		if w == nil {
			if sv != nil {
				return fmt.Errorf("visit %x is live; the model ended it", v.id[:4])
			}
			continue
		}
		if sv == nil || sv.seq != w.seq {
			return fmt.Errorf("Visit(%x) is %d, model says %d", v.id[:4], visitSeq(sv), w.seq)
		}
		if err := compareVisit(sv, w); err != nil {
			return err
		}
		if *sv.Attribution != *w.attr {
			return fmt.Errorf("visit %d attribution %+v, model %+v", w.seq, *sv.Attribution, *w.attr)
		}
	}
	var calls []Call
	s.Calls(func(c *Call) bool { calls = append(calls, *c); return true })
	if len(calls) != len(m.calls) {
		return fmt.Errorf("%d calls, model has %d", len(calls), len(m.calls))
	}
	for i, c := range calls {
		want := m.calls[len(m.calls)-1-i].c
		if !sameCall(c, want) {
			return fmt.Errorf("call %s:\n  %+v\n  model %+v", c.SID, c, want)
		}
		if got := s.Call(c.SID); got == nil || !sameCall(*got, want) {
			return fmt.Errorf("Call(%s) is not the listed call", c.SID)
		}
	}
	if !reflect.DeepEqual(s.callers, m.callers) {
		return fmt.Errorf("callers %v, model %v", s.callers, m.callers)
	}
	return checkExpiryHeap(s)
}

func compareVisit(sv *Visit, w *mVisit) error {
	type facts struct {
		ID                     VisitID
		Pool                   string
		FirstSeen, Seen, Ended int64
		Live                   bool
		Number                 uint64
	}
	got := facts{sv.ID, sv.Pool.ID, timeMillis(sv.FirstSeen), sv.LastSeen().UnixMilli(), timeMillis(sv.Ended()), sv.Live(), 0}
	if n := sv.Number(); n != nil {
		got.Number = n.seq
	}
	want := facts{w.id, w.pool.id, w.firstSeen, w.seen, w.ended, w.ended == 0, 0}
	if w.number != nil {
		want.Number = w.number.seq
	}
	if got != want {
		return fmt.Errorf("visit %d: %+v, model %+v", w.seq, got, want)
	}
	return nil
}

func comparePool(s *State, p *Pool, mp *mPool) error {
	switch {
	case p.ID != mp.id || p.Key != mp.key || p.seq != mp.seq:
		return fmt.Errorf("is %s/%s/%d, model %s/%s/%d", p.ID, p.Key, p.seq, mp.id, mp.key, mp.seq)
	case !reflect.DeepEqual(p.Settings(), mp.settings):
		return fmt.Errorf("settings %+v, model %+v", p.Settings(), mp.settings)
	case timeMillis(p.CreatedAt) != mp.createdAt || timeMillis(p.UpdatedAt()) != mp.updatedAt ||
		timeMillis(p.DeletedAt()) != mp.deletedAt:
		return fmt.Errorf("created/updated/deleted %v/%v/%v, model %d/%d/%d",
			p.CreatedAt, p.UpdatedAt(), p.DeletedAt(), mp.createdAt, mp.updatedAt, mp.deletedAt)
	case p.Status() != mp.status():
		return fmt.Errorf("status %s, model %s", p.Status(), mp.status())
	case p.Counts() != mp.counts():
		return fmt.Errorf("counts %+v, model %+v", p.Counts(), mp.counts())
	}
	var free, mfree []string
	for _, line := range p.free.order() {
		free = append(free, p.numbers[line].Load().E164)
	}
	for _, line := range mp.free {
		mfree = append(mfree, mp.lines[line].e164)
	}
	if !slices.Equal(free, mfree) {
		return fmt.Errorf("free list %v, model %v", free, mfree)
	}
	for line := range p.numbers {
		n, mn := p.numbers[line].Load(), mp.lines[line]
		if (n == nil) != (mn == nil) || n != nil && n.seq != mn.seq {
			return fmt.Errorf("line %d has %v, model %v", line, n, mn)
		}
		h, seen := p.holders[line].Load(), p.seen[line].Load()
		var mh *mVisit
		mseen := int64(noHolder)
		if mn != nil && mn.holder != nil {
			mh, mseen = mn.holder, mn.holder.seen
		}
		if visitSeq(h) != mvisitSeq(mh) || seen != mseen {
			return fmt.Errorf("line %d held by %d seen %d, model %d seen %d", line, visitSeq(h), seen, mvisitSeq(mh), mseen)
		}
	}
	var holders, mholders []uint64
	for _, v := range p.Holders() {
		holders = append(holders, v.seq)
	}
	for _, n := range mp.lines {
		if n != nil && n.holder != nil {
			mholders = append(mholders, n.holder.seq)
		}
	}
	if !slices.Equal(holders, mholders) {
		return fmt.Errorf("holders %v, model %v", holders, mholders)
	}
	var nl, mnl []uint64
	for v := p.nlHead; v != nil; v = v.nlNext {
		nl = append(nl, v.seq)
	}
	for _, v := range mp.numberless {
		mnl = append(mnl, v.seq)
	}
	if !slices.Equal(nl, mnl) {
		return fmt.Errorf("numberless %v, model %v", nl, mnl)
	}
	for k := range 4 {
		var want RequestID
		if j := len(mp.reqs) - 1 - k; j >= 0 {
			want = mp.reqs[j]
		}
		if got := p.recentReqs[(p.nextReq+3-k)%4]; got != want {
			return fmt.Errorf("recent update request %d is %x, model %x", k, got[:2], want[:2])
		}
	}
	numbers := p.Numbers()
	if len(numbers) != len(mp.numbers) {
		return fmt.Errorf("%d numbers, model %d", len(numbers), len(mp.numbers))
	}
	for i, n := range numbers {
		if err := compareNumber(n, mp.numbers[i]); err != nil {
			return fmt.Errorf("number %s: %w", n.E164, err)
		}
	}
	return nil
}

func mvisitSeq(v *mVisit) uint64 {
	if v == nil {
		return 0
	}
	return v.seq
}

func compareNumber(n *Number, mn *mNumber) error {
	type facts struct {
		Seq                              uint64
		E164, ProviderID                 string
		Owned                            bool
		State                            NumberState
		Line                             int
		Holder                           uint64
		Added, Assigned, Freed, Released int64
	}
	got := facts{n.seq, n.E164, n.ProviderID, n.Owned, n.State(), int(n.line), visitSeq(n.Holder()),
		timeMillis(n.AddedAt), timeMillis(n.LastAssigned()), timeMillis(n.LastFreed()), timeMillis(n.ReleasedAt())}
	want := facts{mn.seq, mn.e164, mn.providerID, mn.owned, mn.state, mn.line, mvisitSeq(mn.holder),
		mn.addedAt, mn.lastAssigned, mn.lastFreed, mn.releasedAt}
	if got != want {
		return fmt.Errorf("%+v, model %+v", got, want)
	}
	tenures := n.Tenures()
	remembered := mn.tenures[max(0, len(mn.tenures)-2):]
	if len(tenures) != len(remembered) {
		return fmt.Errorf("remembers %d tenures, model %d", len(tenures), len(remembered))
	}
	for i, t := range tenures {
		mt := remembered[len(remembered)-1-i]
		type tfacts struct {
			Visit, Displaced uint64
			From, Until      int64
			Reason           EndReason
		}
		got := tfacts{visitSeq(t.Visit), visitSeq(t.Displaced), timeMillis(t.From()), timeMillis(t.Until()), t.Reason()}
		want := tfacts{mt.visit.seq, mvisitSeq(mt.displaced), mt.from, mt.until, mt.reason}
		if got != want {
			return fmt.Errorf("tenure %d %+v, model %+v", i, got, want)
		}
		if t.Number != n {
			return fmt.Errorf("tenure %d names another number", i)
		}
		if err := compareVisit(t.Visit, mt.visit); err != nil {
			return err
		}
		if t.Displaced != nil {
			if err := compareVisit(t.Displaced, mt.displaced); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkExpiryHeap checks that the expiry heap is one, and that every pool
// with live visits has a current entry in it no later than its first
// visit's deadline.
func checkExpiryHeap(s *State) error {
	current := map[*Pool]bool{}
	for i, e := range s.expiry {
		if i > 0 && s.expiry.less(i, (i-1)/2) {
			return fmt.Errorf("expiry heap out of order at %d", i)
		}
		if e.pool.expiryDue == e.due {
			current[e.pool] = true
		}
	}
	for _, p := range s.Pools() {
		if p.Counts().Live == 0 {
			continue
		}
		if p.expiryDue == notScheduled || !current[p] {
			return fmt.Errorf("pool %s has live visits and no current entry in the expiry heap", p.ID)
		}
		for i := range p.seen {
			if seen := p.seen[i].Load(); seen != noHolder && p.expiryDue > seen+p.idleMillis() {
				return fmt.Errorf("pool %s is due at %d, after its line %d's deadline", p.ID, p.expiryDue, i)
			}
		}
	}
	return nil
}

// TestReadersRunBesideTheWriter runs random sequences while other
// goroutines use every read method and encode exported images, as the
// state machine's readers and snapshotter do. Under -race it shows that the
// readers share no unsynchronised memory with the writer, and that an image
// stays as it was exported while writes go on.
func TestReadersRunBesideTheWriter(t *testing.T) {
	forSeeds(t, 4, func(t *testing.T, seed uint64) {
		r := newRun(t, seed)
		s := r.s
		done := make(chan struct{})
		images := make(chan *Image, 4)
		errs := make(chan error, 2)
		var wg sync.WaitGroup
		wg.Go(func() { errs <- readAll(s, done) })
		wg.Go(func() {
			for img := range images {
				before, err := json.Marshal(img)
				if err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Millisecond) // let writes go on
				if after, _ := json.Marshal(img); !bytes.Equal(before, after) {
					errs <- fmt.Errorf("an exported image changed as writes went on")
					return
				}
			}
			errs <- nil
		})
		for i := range r.ops {
			r.step(i, r.g.next(), s)
			if i%100 == 0 {
				select {
				case images <- s.Export():
				default:
				}
			}
		}
		close(done)
		close(images)
		wg.Wait()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
	})
}

// readAll calls the read methods over the whole state until done closes,
// and checks what must hold however the reads interleave with writes.
func readAll(s *State, done <-chan struct{}) error {
	for {
		select {
		case <-done:
			return nil
		default:
		}
		for _, p := range s.Pools() {
			_, _, _ = p.Settings(), p.Status(), p.Counts()
			if s.Pool(p.ID) != p || s.PoolByKey(p.Key) != p {
				return fmt.Errorf("pool %s is not found by its id and key", p.ID)
			}
			for _, n := range p.Numbers() {
				if h := n.Holder(); h != nil && h.Pool != p {
					return fmt.Errorf("number %s is held by a visit of pool %s", n.E164, h.Pool.ID)
				}
				tenures := n.Tenures()
				if len(tenures) > 2 || len(tenures) == 2 && tenures[0] == tenures[1] {
					return fmt.Errorf("number %s lists tenures %v", n.E164, tenures)
				}
				for _, t := range tenures {
					if t.Number != n || t.Visit.Pool != p {
						return fmt.Errorf("a tenure of %s names another number or pool", n.E164)
					}
					_, _, _ = t.From(), t.Until(), t.Reason()
				}
				_, _, _, _ = n.State(), n.LastAssigned(), n.LastFreed(), n.ReleasedAt()
				m := s.MatchCall(n.E164, time.UnixMilli(simStart+int64(len(tenures))*60_000))
				if (m.Kind == MatchNone) != (m.Visit == nil) || m.Number == nil {
					return fmt.Errorf("match %+v", m)
				}
			}
			for _, v := range p.Holders() {
				_, _, _, _ = v.LastSeen(), v.Number(), v.Live(), v.Ended()
				if v.Attribution == nil || v.Pool != p {
					return fmt.Errorf("holder %s of pool %s is not whole", v.ID, p.ID)
				}
				_ = s.Visit(v.ID)
			}
		}
		s.Calls(func(c *Call) bool {
			if c.Attribution != nil {
				_ = c.Attribution.Source
			}
			_ = s.Call(c.SID)
			return true
		})
	}
}
