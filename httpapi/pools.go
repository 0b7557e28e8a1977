package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/snippet"
)

// Pool is a pool as the admin API shows it, with the same names on the
// wire in requests and answers. id, key, status, install, the times and
// stats are the server's.
type Pool struct {
	ID                 string    `json:"id"`
	Key                string    `json:"key"`
	Name               string    `json:"name"`
	Tracking           string    `json:"tracking"`
	Size               int       `json:"size"`
	Country            string    `json:"country"` // ISO 3166: how the website writes numbers, where numbers are bought
	AreaCode           string    `json:"area_code"`
	SwapTarget         string    `json:"swap_target"`
	ForwardTo          []string  `json:"forward_to"`
	Rings              int       `json:"rings"`
	Overflow           string    `json:"overflow"`
	IdleTimeoutS       int       `json:"idle_timeout_s"`
	AttributionWindowS int       `json:"attribution_window_s"`
	Whisper            bool      `json:"whisper"`
	Allocation         string    `json:"allocation"`
	DisplaceAfterS     int       `json:"displace_after_s"`
	VisitsPerMinute    int       `json:"visits_per_minute"` // 0: automatic (allocator.Settings.Budget)
	VisitBurst         int       `json:"visit_burst"`       // 0: automatic
	AllowedOrigins     []string  `json:"allowed_origins"`   // empty: any website
	LeadRule           bool      `json:"lead_rule"`         // the conversion rule is on
	LeadMinDurationS   int       `json:"lead_min_duration_s"`
	LeadValue          float64   `json:"lead_value"` // in the cluster's currency
	Voicemail          Voicemail `json:"voicemail"`
	Hours              Hours     `json:"hours"`
	Recording          Recording `json:"recording"`
	Autoscale          Autoscale `json:"autoscale"` // both 0: the pool keeps its size
	Status             string    `json:"status"`
	Notice             string    `json:"notice,omitempty"` // the provisioner's, such as numbers bought outside the area code
	Install            string    `json:"install"`          // the <script> tag for the pool's website
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	Stats              PoolStats `json:"stats"`
	// Usage is the pool's traffic by window ("7d", "30d"); Advice the size
	// it suggests from the last 30 days (usage.go).
	Usage  map[string]PoolUsage `json:"usage"`
	Advice PoolAdvice           `json:"advice"`
	// SizeHistory lists the pool's size changes, by hand or by the
	// autoscaler, with their reasons, oldest first.
	SizeHistory []SizeChange `json:"size_history"`
}

// PoolStats are a pool's counters at the time it was read.
type PoolStats struct {
	Numbers     int     `json:"numbers"`
	Free        int     `json:"free"`
	Releasing   int     `json:"releasing"`
	LiveVisits  int     `json:"live_visits"`
	Waiting     int     `json:"waiting_visits"` // live visits that lost their number
	Utilisation float64 `json:"utilisation"`    // held numbers / numbers in service
}

// poolOut is a pool as the admin API shows it. Its install tag loads dni.js
// from base, the cluster's public URL.
func poolOut(p *allocator.Pool, base string) Pool {
	st, c := p.Settings(), p.Counts()
	util := 0.0
	if c.Active > 0 {
		util = float64(c.Active-c.Free) / float64(c.Active)
	}
	now := time.Now()
	return Pool{
		ID: p.ID, Key: p.Key, Name: st.Name, Tracking: string(st.Tracking), Size: st.Size, Country: st.Country,
		AreaCode: st.AreaCode, SwapTarget: st.SwapTarget, ForwardTo: st.ForwardTo, Rings: st.Rings,
		Overflow: string(st.Overflow), IdleTimeoutS: int(st.IdleTimeout / time.Second),
		AttributionWindowS: int(st.AttributionWindow / time.Second), Whisper: st.Whisper, Allocation: string(st.Allocation),
		DisplaceAfterS: int(st.DisplaceAfter / time.Second), VisitsPerMinute: st.VisitsPerMinute, VisitBurst: st.VisitBurst,
		AllowedOrigins: append([]string{}, st.AllowedOrigins...), Status: string(p.Status()), Notice: p.Notice(),
		LeadRule: st.LeadRule, LeadMinDurationS: int(st.LeadMinDuration / time.Second), LeadValue: st.LeadValue.Float(),
		Voicemail: voicemailOut(st.Voicemail), Hours: hoursOut(st.Hours), Recording: recordingOut(st.Recording),
		Autoscale: Autoscale(st.Autoscale),
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt(),
		Install: snippet.Get().Tag(base, p.Key, st.Tracking == allocator.TrackGCLID),
		Stats: PoolStats{
			Numbers: c.Active, Free: c.Free, Releasing: c.Releasing, LiveVisits: c.Live,
			Waiting: c.Numberless, Utilisation: util,
		},
		Usage: usageOut(p, now), Advice: PoolAdvice(p.Advice(now, allocator.UsageHistory)), SizeHistory: sizesOut(p),
	}
}

// poolRequest is a pool as a client writes it: every field optional, so a
// PATCH changes only what it names. The server's fields are refused.
type poolRequest struct {
	Name               *string   `json:"name"`
	Tracking           *string   `json:"tracking"`
	Size               *int      `json:"size"`
	Country            *string   `json:"country"`
	AreaCode           *string   `json:"area_code"`
	SwapTarget         *string   `json:"swap_target"`
	ForwardTo          *[]string `json:"forward_to"`
	Rings              *int      `json:"rings"`
	Overflow           *string   `json:"overflow"`
	IdleTimeoutS       *int      `json:"idle_timeout_s"`
	AttributionWindowS *int      `json:"attribution_window_s"`
	Whisper            *bool     `json:"whisper"`
	Allocation         *string   `json:"allocation"`
	DisplaceAfterS     *int      `json:"displace_after_s"`
	VisitsPerMinute    *int      `json:"visits_per_minute"`
	VisitBurst         *int      `json:"visit_burst"`
	AllowedOrigins     *[]string `json:"allowed_origins"`
	LeadRule           *bool     `json:"lead_rule"`
	LeadMinDurationS   *int      `json:"lead_min_duration_s"`
	LeadValue          *float64  `json:"lead_value"`
	answeringRequest

	ID        *string    `json:"id"`
	Key       *string    `json:"key"`
	Status    *string    `json:"status"`
	CreatedAt *time.Time `json:"created_at"`
	UpdatedAt *time.Time `json:"updated_at"`
	Stats     *PoolStats `json:"stats"`
	Install   *string    `json:"install"`
}

func (r *poolRequest) serverField() string {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"id", r.ID != nil}, {"key", r.Key != nil}, {"status", r.Status != nil},
		{"created_at", r.CreatedAt != nil}, {"updated_at", r.UpdatedAt != nil}, {"stats", r.Stats != nil},
		{"install", r.Install != nil},
	} {
		if f.set {
			return f.name
		}
	}
	return ""
}

// maxSeconds keeps seconds from overflowing a Duration (which holds about
// 2^33 of them) before validation gets to say they are out of range.
const maxSeconds = 1 << 32

// patch is the change the request asks of settings cur.
func (r *poolRequest) patch(cur *allocator.Settings) (allocator.Patch, error) {
	p := allocator.Patch{
		Name: r.Name, Size: r.Size, AreaCode: r.AreaCode, SwapTarget: r.SwapTarget, Rings: r.Rings, Whisper: r.Whisper,
		VisitsPerMinute: r.VisitsPerMinute, VisitBurst: r.VisitBurst, LeadRule: r.LeadRule, Country: r.Country,
	}
	if r.LeadValue != nil {
		v, err := allocator.MoneyFrom("lead_value", *r.LeadValue)
		if err != nil {
			return p, err
		}
		p.LeadValue = &v
	}
	if r.Tracking != nil {
		p.Tracking = ptr(allocator.Tracking(*r.Tracking))
	}
	if r.Overflow != nil {
		p.Overflow = ptr(allocator.Overflow(*r.Overflow))
	}
	if r.Allocation != nil {
		p.Allocation = ptr(allocator.Allocation(*r.Allocation))
	}
	if r.ForwardTo != nil {
		p.ForwardTo = append([]string{}, *r.ForwardTo...)
	}
	if r.AllowedOrigins != nil {
		p.AllowedOrigins = Origins(*r.AllowedOrigins)
	}
	for _, s := range []struct {
		field string
		v     *int
		dst   **time.Duration
	}{
		{"idle_timeout_s", r.IdleTimeoutS, &p.IdleTimeout}, {"attribution_window_s", r.AttributionWindowS, &p.AttributionWindow},
		{"displace_after_s", r.DisplaceAfterS, &p.DisplaceAfter}, {"lead_min_duration_s", r.LeadMinDurationS, &p.LeadMinDuration},
	} {
		if s.v != nil {
			if *s.v < 0 || *s.v > maxSeconds {
				return p, &allocator.ValidationError{Field: s.field, Reason: "out of range"}
			}
			*s.dst = ptr(time.Duration(*s.v) * time.Second)
		}
	}
	return p, r.answeringRequest.patch(cur, &p)
}

func ptr[T any](v T) *T { return &v }

// Origins writes each origin as browsers send it (lower case, no default
// port, no trailing slash), so that "https://Shop.example/" means the
// website it names. One that is no origin stays as written, for validation
// to name. The list is never nil: an empty one clears a pool's.
func Origins(in []string) []string {
	out := make([]string, len(in))
	for i, o := range in {
		out[i] = strings.TrimSpace(o)
		if c, err := allocator.CanonicalOrigin(out[i]); err == nil {
			out[i] = c
		}
	}
	return out
}

// randomID is prefix and 24 hexadecimal characters (96 random bits).
func randomID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// readPool reads a pool request as a change to the settings cur.
func (s *Server) readPool(rc *fasthttp.RequestCtx, cur allocator.Settings) (poolRequest, allocator.Patch, bool) {
	var req poolRequest
	if err := decodeBody(rc, &req); err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return req, allocator.Patch{}, false
	}
	if f := req.serverField(); f != "" {
		writeJSON(rc, fasthttp.StatusBadRequest, errorBody{Error: f + ": is set by the server, not the client", Field: f})
		return req, allocator.Patch{}, false
	}
	patch, err := req.patch(&cur)
	if err != nil {
		writeErr(rc, err)
		return req, patch, false
	}
	return req, patch, true
}

func (s *Server) createPool(rc *fasthttp.RequestCtx, _ []string) {
	_, patch, ok := s.readPool(rc, newPoolBase())
	if !ok {
		return
	}
	ctx, cancel := requestContext()
	defer cancel()
	p, err := s.Admin(rc).CreatePool(ctx, patch)
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusCreated, p)
}

func (s *Server) listPools(rc *fasthttp.RequestCtx, _ []string) {
	withDeleted := string(rc.QueryArgs().Peek("deleted")) == "true"
	writeJSON(rc, fasthttp.StatusOK, map[string]any{"pools": s.Admin(rc).Pools(withDeleted)})
}

// pool finds the pool named in the path, answering 404 itself if there is
// none.
func (s *Server) pool(rc *fasthttp.RequestCtx, id string) *allocator.Pool {
	p := s.node.State().Pool(id)
	if p == nil {
		writeError(rc, fasthttp.StatusNotFound, allocator.ErrUnknownPool.Error())
	}
	return p
}

func (s *Server) getPool(rc *fasthttp.RequestCtx, params []string) {
	p, err := s.Admin(rc).Pool(params[0])
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, p)
}

// updatePool changes the settings a PATCH names. A smaller size takes
// numbers out of service at once; the answer lists them.
func (s *Server) updatePool(rc *fasthttp.RequestCtx, params []string) {
	p := s.pool(rc, params[0])
	if p == nil {
		return
	}
	_, patch, ok := s.readPool(rc, p.Settings())
	if !ok {
		return
	}
	ctx, cancel := requestContext()
	defer cancel()
	updated, released, err := s.Admin(rc).UpdatePool(ctx, params[0], patch)
	if err != nil {
		writeErr(rc, err)
		return
	}
	out := struct {
		Pool
		Released []string `json:"released,omitempty"`
	}{updated, released}
	writeJSON(rc, fasthttp.StatusOK, out)
}

// deletePool soft-deletes a pool: its numbers are released at the provider,
// its history stays.
func (s *Server) deletePool(rc *fasthttp.RequestCtx, params []string) {
	ctx, cancel := requestContext()
	defer cancel()
	p, err := s.Admin(rc).DeletePool(ctx, params[0])
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, p)
}

// Pools lists the pools, in the order they were made; deleted ones only
// if asked.
func (a Admin) Pools(deleted bool) []Pool {
	out := []Pool{}
	for _, p := range a.s.node.State().Pools() {
		if deleted || !p.Deleted() {
			out = append(out, poolOut(p, a.base))
		}
	}
	return out
}

// Pool returns the pool with the id, or allocator.ErrUnknownPool.
func (a Admin) Pool(id string) (Pool, error) {
	p := a.s.node.State().Pool(id)
	if p == nil {
		return Pool{}, allocator.ErrUnknownPool
	}
	return poolOut(p, a.base), nil
}

// NewPoolSettings returns the settings a new pool made with patch would
// have, checked: the defaults first, then what patch says (a value given,
// zero included, is checked as given). The wizard checks its steps with it.
func (a Admin) NewPoolSettings(patch allocator.Patch) (allocator.Settings, error) {
	st := newPoolBase().Patched(&patch)
	if err := checkOutsideLog(&st, &patch); err != nil {
		return st, err
	}
	return st, st.Validate()
}

// newPoolBase is a new pool's settings before a request's: the defaults,
// the cluster's voicemail among them.
func newPoolBase() allocator.Settings {
	return allocator.Settings{Whisper: true, LeadRule: true, Voicemail: allocator.Voicemail{UseDefault: true}}.WithDefaults()
}

// checkOutsideLog checks what the state machine does not, because it
// needs a library whose answers may change between versions (the phone
// numbering plan, the time zone database): only before the log.
func checkOutsideLog(st *allocator.Settings, patch *allocator.Patch) error {
	if err := checkNumbers(st, patch); err != nil {
		return err
	}
	if patch.Hours != nil && st.Hours.On {
		return allocator.CheckTimeZone("hours.time_zone", st.Hours.TimeZone)
	}
	return nil
}

// checkNumbers reads the forwarding numbers the patch gives in the layouts
// of the pool's country, into E.164 in the patch and the settings, and
// checks every number of the settings with the phone library, which the
// state machine does not run (allocator.Settings.CheckNumbers).
func checkNumbers(st *allocator.Settings, patch *allocator.Patch) error {
	if patch.ForwardTo != nil {
		if !allocator.KnownCountry(st.Country) {
			return st.CheckNumbers() // names the country
		}
		e164, err := allocator.NormalizeForwardTo(patch.ForwardTo, st.Country)
		if err != nil {
			return err
		}
		patch.ForwardTo, st.ForwardTo = e164, e164
	}
	if patch.SwapTarget != nil || patch.ForwardTo != nil || patch.Country != nil {
		return st.CheckNumbers()
	}
	return nil
}

// CreatePool makes a pool; the leader's reconciler then buys its numbers.
// A setting no pool may have is an *allocator.ValidationError.
func (a Admin) CreatePool(ctx context.Context, patch allocator.Patch) (Pool, error) {
	st, err := a.NewPoolSettings(patch)
	if err != nil {
		return Pool{}, err
	}
	id, key := randomID("pl_"), randomID("pk_")
	if _, err := a.s.commitAndWait(ctx, &fsm.CreatePool{ID: id, Key: key, Settings: st, At: time.Now()}); err != nil {
		return Pool{}, err
	}
	return a.Pool(id)
}

// UpdatePool changes the settings patch names, and returns the pool and
// the numbers a smaller size took out of service (ShrinkOrder said which).
func (a Admin) UpdatePool(ctx context.Context, id string, patch allocator.Patch) (Pool, []string, error) {
	p := a.s.node.State().Pool(id)
	if p == nil {
		return Pool{}, nil, allocator.ErrUnknownPool
	}
	// Checked here too, so that a value no setting could take never reaches
	// the log; the state machine checks again against the pool as it is.
	st := p.Settings().Patched(&patch)
	if err := checkOutsideLog(&st, &patch); err != nil {
		return Pool{}, nil, err
	}
	if err := st.Validate(); err != nil {
		return Pool{}, nil, err
	}
	var req allocator.RequestID
	rand.Read(req[:])
	r, err := a.s.commitAndWait(ctx, &fsm.UpdatePool{ID: id, Req: req, Patch: patch, At: time.Now()})
	if err != nil {
		return Pool{}, nil, err
	}
	out, err := a.Pool(id)
	return out, r.Retired, err
}

// DeletePool soft-deletes a pool: its numbers go to be released at the
// provider; its calls stay.
func (a Admin) DeletePool(ctx context.Context, id string) (Pool, error) {
	if a.s.node.State().Pool(id) == nil {
		return Pool{}, allocator.ErrUnknownPool
	}
	if _, err := a.s.commitAndWait(ctx, &fsm.DeletePool{ID: id, At: time.Now()}); err != nil {
		return Pool{}, err
	}
	return a.Pool(id)
}

// Numbers lists every number the pool ever had, in the order added.
func (a Admin) Numbers(id string) ([]Number, error) {
	p := a.s.node.State().Pool(id)
	if p == nil {
		return nil, allocator.ErrUnknownPool
	}
	out := []Number{}
	for _, n := range p.Numbers() {
		out = append(out, numberOut(n))
	}
	return out, nil
}

// ShrinkOrder lists the pool's numbers in service in the order a smaller
// size releases them, for a preview before the size changes.
func (a Admin) ShrinkOrder(id string) ([]Number, error) {
	p := a.s.node.State().Pool(id)
	if p == nil {
		return nil, allocator.ErrUnknownPool
	}
	out := []Number{}
	for _, n := range p.ShrinkOrder() {
		out = append(out, numberOut(n))
	}
	return out, nil
}

// Number is a tracking number as the admin API shows it.
type Number struct {
	Number       string     `json:"number"`
	Display      string     `json:"display"`
	ProviderID   string     `json:"provider_id,omitempty"`
	State        string     `json:"state"`
	Owned        bool       `json:"owned"`
	Visit        string     `json:"visit,omitempty"` // the live visit holding it
	AddedAt      time.Time  `json:"added_at"`
	LastAssigned *time.Time `json:"last_assigned,omitempty"`
	LastFreed    *time.Time `json:"last_freed,omitempty"`
	ReleasedAt   *time.Time `json:"released_at,omitempty"`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func numberOut(n *allocator.Number) Number {
	out := Number{
		Number: n.E164, Display: Display(n.E164), ProviderID: n.ProviderID, State: n.State().String(),
		Owned: n.Owned, AddedAt: n.AddedAt, LastAssigned: timeOrNil(n.LastAssigned()),
		LastFreed: timeOrNil(n.LastFreed()), ReleasedAt: timeOrNil(n.ReleasedAt()),
	}
	if v := n.Holder(); v != nil {
		out.Visit = v.ID.String()
	}
	return out
}

func (s *Server) listNumbers(rc *fasthttp.RequestCtx, params []string) {
	out, err := s.Admin(rc).Numbers(params[0])
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, map[string]any{"numbers": out})
}

// releaseNumber takes one number out of service: dni releases it at the
// provider and, the pool's size unchanged, buys a replacement. Its visitor
// waits for a free number. History keeps it.
func (s *Server) releaseNumber(rc *fasthttp.RequestCtx, params []string) {
	p := s.pool(rc, params[0])
	if p == nil {
		return
	}
	n := s.node.State().Number(params[1])
	if n == nil || n.Pool != p {
		writeError(rc, fasthttp.StatusNotFound, "the pool has no number "+params[1])
		return
	}
	if !s.commit(rc, &fsm.MarkRelease{E164: n.E164, At: time.Now().UTC().Truncate(time.Millisecond)}) {
		return
	}
	writeJSON(rc, fasthttp.StatusOK, numberOut(n))
}

// attachNumbers puts numbers the customer already owns into a pool (ported,
// or from another carrier); the pool's size grows to hold them. Each number
// gets its own result.
func (s *Server) attachNumbers(rc *fasthttp.RequestCtx, params []string) {
	if s.pool(rc, params[0]) == nil {
		return
	}
	var req struct {
		Numbers []string `json:"numbers"`
	}
	if err := decodeBody(rc, &req); err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if len(req.Numbers) == 0 || len(req.Numbers) > allocator.MaxPoolSize {
		writeJSON(rc, fasthttp.StatusBadRequest, errorBody{Error: "numbers: list 1 to 50 numbers in E.164 form", Field: "numbers"})
		return
	}
	for _, n := range req.Numbers {
		if !allocator.ValidE164(n) {
			writeJSON(rc, fasthttp.StatusBadRequest, errorBody{Error: "numbers: " + n + " is not an E.164 number such as +14155550100", Field: "numbers"})
			return
		}
	}
	if i := firstRepeat(req.Numbers); i >= 0 {
		writeJSON(rc, fasthttp.StatusBadRequest, errorBody{Error: "numbers: " + req.Numbers[i] + " is listed twice", Field: "numbers"})
		return
	}
	type result struct {
		Number string `json:"number"`
		Error  string `json:"error,omitempty"`
	}
	results := make([]result, len(req.Numbers))
	ctx, cancel := requestContext()
	defer cancel()
	var last uint64
	failed := 0
	for i, n := range req.Numbers {
		results[i].Number = n
		r, err := s.node.Commit(ctx, &fsm.AddNumber{Pool: params[0], E164: n, Owned: true, At: time.Now()})
		if err != nil {
			writeErr(rc, err)
			return
		}
		if r.Err != nil {
			results[i].Error = r.Err.Error()
			failed++
		}
		last = max(last, r.Index)
	}
	if err := s.node.WaitApplied(ctx, last); err != nil {
		writeErr(rc, err)
		return
	}
	status := fasthttp.StatusCreated
	if failed == len(results) {
		status = fasthttp.StatusConflict
	} else if failed > 0 {
		status = fasthttp.StatusMultiStatus
	}
	writeJSON(rc, status, map[string]any{"results": results, "pool": poolOut(s.node.State().Pool(params[0]), s.publicURL(rc))})
}

func firstRepeat(xs []string) int {
	for i := range xs {
		if slices.Contains(xs[:i], xs[i]) {
			return i
		}
	}
	return -1
}

type visitJSON struct {
	Visit       string          `json:"visit"`
	Number      string          `json:"number,omitempty"`
	FirstSeen   time.Time       `json:"first_seen"`
	LastSeen    time.Time       `json:"last_seen"`
	Attribution attributionJSON `json:"attribution"`
}

type attributionJSON map[string]string

// attributionOut names the fields as the query parameters marketers know,
// leaving out the empty ones.
func attributionOut(a *allocator.Attribution) attributionJSON {
	out := attributionJSON{}
	if a == nil {
		return out
	}
	b := *a
	for _, name := range allocator.QueryParams {
		if v := *b.QueryField(name); v != "" {
			out[name] = v
		}
	}
	for name, v := range map[string]string{"referrer": a.Referrer, "landing_page": a.LandingPage, "user_agent": a.UserAgent} {
		if v != "" {
			out[name] = v
		}
	}
	return out
}

// listVisits lists a pool's live visits holding a number, with their
// attribution.
func (s *Server) listVisits(rc *fasthttp.RequestCtx, params []string) {
	p := s.pool(rc, params[0])
	if p == nil {
		return
	}
	out := []visitJSON{}
	for _, v := range p.Holders() {
		vj := visitJSON{Visit: v.ID.String(), FirstSeen: v.FirstSeen, LastSeen: v.LastSeen(), Attribution: attributionOut(v.Attribution)}
		if n := v.Number(); n != nil {
			vj.Number = n.E164
		}
		out = append(out, vj)
	}
	slices.SortFunc(out, func(a, b visitJSON) int { return b.LastSeen.Compare(a.LastSeen) })
	writeJSON(rc, fasthttp.StatusOK, map[string]any{"visits": out, "waiting_visits": p.Counts().Numberless})
}
