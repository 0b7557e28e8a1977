package allocator

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

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
	s = s.WithDefaults()
	s.DisplaceAfter = g.displaceAfter()
	s.VisitsPerMinute, s.VisitBurst = g.budget()
	s.AllowedOrigins = g.origins()
	return s
}

// origins is mostly none (any website), else one or two, now and then one
// written as no browser sends it.
func (g *sim) origins() []string {
	switch r := g.rng.Float64(); {
	case r < 0.6:
		return nil
	case r < 0.65:
		return []string{}
	case r < 0.95:
		return []string{"https://shop.example", "http://localhost:8080"}[:1+g.rng.IntN(2)]
	default:
		return []string{"https://Shop.example/"}
	}
}

// budget is mostly automatic (twice the size a minute, which the sim's
// pace reaches now and then), else a few visits a minute, or many.
func (g *sim) budget() (perMinute, burst int) {
	switch r := g.rng.Float64(); {
	case r < 0.5:
		return 0, 0
	case r < 0.8:
		return 1 + g.rng.IntN(20), g.rng.IntN(6)
	default:
		return g.rng.IntN(MaxVisitsPerMinute + 1), g.rng.IntN(MaxVisitBurst + 1)
	}
}

// displaceAfter is often zero (displace anyone, so that recycling happens
// at the sim's pace), else up to a few minutes, around the idle timeouts.
func (g *sim) displaceAfter() time.Duration {
	if g.chance(0.4) {
		return 0
	}
	return time.Duration(g.rng.IntN(301)) * time.Second
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
		if g.chance(0.1) {
			d := g.displaceAfter()
			if g.chance(0.05) {
				d = -time.Second
			}
			u.Patch.DisplaceAfter = &d
		}
		if g.chance(0.1) {
			perMinute, burst := g.budget()
			if g.chance(0.05) {
				burst = MaxVisitBurst + 1
			}
			u.Patch.VisitsPerMinute, u.Patch.VisitBurst = &perMinute, &burst
		}
		if g.chance(0.1) {
			u.Patch.AllowedOrigins = g.origins()
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
	switch g.rng.IntN(7) {
	case 0, 1:
		a.GCLID = g.clickID()
	case 2:
		a.GBRAID = g.clickID()
	case 3:
		a.WBRAID = g.clickID()
	case 4:
		a.FBCLID = g.clickID()
	}
	a.Source = sources[g.rng.IntN(len(sources))]
	a.Campaign = campaigns[g.rng.IntN(len(campaigns))]
	if g.chance(0.02) {
		a.Term = strings.Repeat("é", MaxUTMLen) // cut to fit
	}
	return a
}

// clickID is mostly what Google puts on an ad click (base64url, tens of
// characters), else what a script makes up: too short, too long, or with
// characters Google's have not.
func (g *sim) clickID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	n := 20 + g.rng.IntN(140)
	switch r := g.rng.Float64(); {
	case r < 0.1:
		n = 1 + g.rng.IntN(MinGoogleClickIDLen)
	case r < 0.12:
		n = MaxClickIDLen + 1
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	if g.chance(0.05) {
		b[g.rng.IntN(n)] = ".=+/ "[g.rng.IntN(5)]
	}
	return string(b)
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
	a.Unguarded = g.chance(0.05) // from a log written before the guards
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
