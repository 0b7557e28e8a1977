package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// visitRequest is what the snippet sends when a visit starts. UTM fields
// and click ids come from the page URL's query; fields given explicitly win.
type visitRequest struct {
	Pool     string `json:"pool"`
	URL      string `json:"url"`
	Referrer string `json:"referrer"`

	Source   *string `json:"utm_source"`
	Medium   *string `json:"utm_medium"`
	Campaign *string `json:"utm_campaign"`
	Term     *string `json:"utm_term"`
	Content  *string `json:"utm_content"`
	GCLID    *string `json:"gclid"`
	GBRAID   *string `json:"gbraid"`
	WBRAID   *string `json:"wbraid"`
	FBCLID   *string `json:"fbclid"`
	MSCLKID  *string `json:"msclkid"`
}

// visitAnswer is what the snippet gets: a number to swap in, or why not.
type visitAnswer struct {
	Visit      string `json:"visit,omitempty"`
	Number     string `json:"number,omitempty"`
	Display    string `json:"display,omitempty"`
	Target     string `json:"target,omitempty"`
	HeartbeatS int    `json:"heartbeat_s,omitempty"`
	Swap       *bool  `json:"swap,omitempty"`
	Reason     string `json:"reason,omitempty"`

	// What the snippet finds the business number by and writes the
	// tracking number with, so that no phone library ships to the
	// browser: the business number's national significant number, its
	// country code and national trunk prefix ("0" in GB, "1" in North
	// America; none in some countries), and the tracking number's national
	// significant number and international format (Display is its
	// national one).
	TargetDigits  string `json:"target_digits,omitempty"`
	CountryCode   string `json:"country_code,omitempty"`
	TrunkPrefix   string `json:"trunk_prefix,omitempty"`
	Digits        string `json:"digits,omitempty"`
	International string `json:"international,omitempty"`
}

// Reasons a visitor gets no number.
const (
	reasonNotGoogleAds = "not a Google Ads click"
	reasonPoolFull     = "pool full"
	reasonPoolDeleted  = "pool deleted"
	reasonBot          = "bot"
	reasonOverBudget   = "over budget" // the pool's budget of new visits is spent for now
)

func noSwap(reason string) visitAnswer {
	f := false
	return visitAnswer{Swap: &f, Reason: reason}
}

// decodeBody reads a JSON body strictly: unknown fields and trailing data
// are errors. A visitor request may come as text/plain (a browser sends
// that without a CORS preflight); the body is JSON all the same.
func decodeBody(rc *fasthttp.RequestCtx, v any) error {
	body := rc.PostBody()
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %s", jsonProblem(err))
	}
	if dec.More() {
		return errors.New("malformed JSON: data after the object")
	}
	return nil
}

// jsonProblem words a decoding error for the caller.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s must be %s", te.Field, te.Type)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func (s *Server) createVisit(rc *fasthttp.RequestCtx, _ []string) {
	var req visitRequest
	if err := decodeBody(rc, &req); err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if req.Pool == "" {
		writeError(rc, fasthttp.StatusBadRequest, "pool is required: the pool key from the install tag")
		return
	}
	pool := s.node.State().PoolByKey(req.Pool)
	if pool == nil {
		// A node that has just restarted, or lags, may not have applied
		// the pool's creation yet.
		if err := s.catchUpBeforeDenying(); err != nil {
			writeError(rc, fasthttp.StatusServiceUnavailable, "this node is catching up with the cluster; try again")
			return
		}
		pool = s.node.State().PoolByKey(req.Pool)
	}
	if pool == nil {
		writeErr(rc, allocator.ErrUnknownPool)
		return
	}
	if !s.fromAllowedOrigin(rc, pool, req.URL, true) {
		return
	}
	ua := string(rc.UserAgent())
	if isBot(ua) {
		s.metrics.bots.Inc()
		s.answerNoSwap(rc, pool.ID, reasonBot)
		return
	}
	attr, err := req.attribution(ua)
	if err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	// The pool's own rules, asked before the log is: a visit they would
	// refuse costs no write.
	if err := pool.Admits(&attr); err != nil {
		s.refuseVisit(rc, pool, err)
		return
	}
	if !pool.WithinBudget(time.Now()) {
		s.answerNoSwap(rc, pool.ID, reasonOverBudget)
		return
	}
	if !s.limits.allow(s.clientIP(rc), time.Now()) {
		s.metrics.rateLimited.Inc()
		writeError(rc, fasthttp.StatusTooManyRequests, "too many new visits from this address; try again in a minute")
		return
	}
	id := allocator.VisitID(randomBytes())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := s.node.Commit(ctx, &fsm.Assign{Visit: id, PoolKey: req.Pool, Attribution: attr, At: time.Now()})
	if err == nil {
		err = r.Err
	}
	switch {
	case err != nil:
		s.refuseVisit(rc, pool, err)
	case r.Outcome == allocator.Full:
		s.answerNoSwap(rc, pool.ID, reasonPoolFull)
	case r.Outcome == allocator.OverBudget:
		s.answerNoSwap(rc, pool.ID, reasonOverBudget)
	default:
		s.metrics.visit(pool.ID, r.Outcome.String())
		a := s.numberAnswer(id, r.Number, pool)
		writeVisitAnswer(rc, fasthttp.StatusCreated, &a)
	}
}

// fromAllowedOrigin checks a visitor request against the websites the pool
// lists, if it lists any (allocator.Settings.AllowsOrigin, and for a new
// visit AllowsPage on the page's URL), and answers 403 itself when it is
// not from one of them. To a request it takes from a listed website, the
// CORS answer names that website instead of allowing any.
func (s *Server) fromAllowedOrigin(rc *fasthttp.RequestCtx, pool *allocator.Pool, pageURL string, newVisit bool) bool {
	st := pool.Settings()
	if len(st.AllowedOrigins) == 0 {
		return true
	}
	origin := string(rc.Request.Header.Peek("Origin"))
	if st.AllowsOrigin(origin) && (!newVisit || st.AllowsPage(pageURL)) {
		rc.Response.Header.Set("Access-Control-Allow-Origin", strings.ToLower(origin))
		return true
	}
	rc.Response.Header.Del("Access-Control-Allow-Origin")
	if newVisit {
		s.metrics.visit(pool.ID, "origin_refused")
	} else {
		s.metrics.heartbeat(heartbeatOriginRefused)
	}
	writeError(rc, fasthttp.StatusForbidden, "this pool takes visits only from the websites it lists (allowed_origins); the request's Origin and page are not one of them")
	return false
}

// noSwapReasons words the refusals of a pool's rule (Pool.Admits) for the
// snippet, which then leaves the business number in place.
var noSwapReasons = []struct {
	err    error
	reason string
}{
	{allocator.ErrPoolDeleted, reasonPoolDeleted},
	{allocator.ErrNotGoogleClick, reasonNotGoogleAds},
}

// refuseVisit answers a new visit the pool or the cluster did not take: a
// refusal of the pool's rule is an answer with no number, anything else an
// error.
func (s *Server) refuseVisit(rc *fasthttp.RequestCtx, pool *allocator.Pool, err error) {
	for _, r := range noSwapReasons {
		if errors.Is(err, r.err) {
			s.answerNoSwap(rc, pool.ID, r.reason)
			return
		}
	}
	writeErr(rc, err)
}

func (s *Server) answerNoSwap(rc *fasthttp.RequestCtx, pool, reason string) {
	s.metrics.visit(pool, strings.ReplaceAll(reason, " ", "_"))
	a := noSwap(reason)
	writeVisitAnswer(rc, fasthttp.StatusOK, &a)
}

// randomBytes draws 128 bits for a visit or request id from a ChaCha8
// generator seeded from the operating system: as unpredictable, and without
// a system call per id.
func randomBytes() (id [16]byte) {
	g := generators.Get().(*mrand.ChaCha8)
	g.Read(id[:])
	generators.Put(g)
	return id
}

var generators = sync.Pool{New: func() any {
	var seed [32]byte
	rand.Read(seed[:])
	return mrand.NewChaCha8(seed)
}}

func (s *Server) numberAnswer(id allocator.VisitID, number string, pool *allocator.Pool) visitAnswer {
	st := pool.Settings()
	t, n := targetOf(st.SwapTarget, st.Country), numberOf(number)
	return visitAnswer{
		Visit: id.String(), Number: number, Display: n.national,
		Target: st.SwapTarget, HeartbeatS: int(s.opt.HeartbeatInterval / time.Second),
		TargetDigits: t.digits, CountryCode: t.countryCode, TrunkPrefix: t.trunk,
		Digits: n.digits, International: n.international,
	}
}

// targetDigits is a swap target as the snippet looks for it.
type targetDigits struct{ digits, countryCode, trunk string }

// numberForms is a tracking number as the snippet writes it.
type numberForms struct{ digits, national, international string }

// The phone library reads each swap target and tracking number once: a
// pool's target changes only when an admin edits it, and the numbers are
// the ones the pools hold, so both caches stay small.
var targets, numberCache sync.Map

// targetOf reads a pool's swap target; one the library cannot read has no
// digits, and the snippet then looks for it as a North American number.
func targetOf(target, country string) targetDigits {
	key := country + " " + target
	if t, ok := targets.Load(key); ok {
		return t.(targetDigits)
	}
	var t targetDigits
	if e, err := allocator.SwapTargetE164(target, country); err == nil {
		if national, cc, trunk, ok := allocator.PhoneParts(e); ok {
			t = targetDigits{digits: national, countryCode: cc, trunk: trunk}
		}
	}
	targets.Store(key, t)
	return t
}

// numberOf lays a tracking number out; a North American one without the
// library.
func numberOf(e164 string) numberForms {
	if len(e164) == 12 && strings.HasPrefix(e164, "+1") {
		d := e164[2:]
		return numberForms{d, Display(e164), "+1 " + d[:3] + "-" + d[3:6] + "-" + d[6:]}
	}
	if f, ok := numberCache.Load(e164); ok {
		return f.(numberForms)
	}
	f := numberForms{national: Display(e164), international: allocator.InternationalFormat(e164)}
	f.digits, _, _, _ = allocator.PhoneParts(e164)
	numberCache.Store(e164, f)
	return f
}

// attribution builds the visit's attribution from the page URL's query,
// the explicit fields and the user agent, cut to the caps.
func (req *visitRequest) attribution(userAgent string) (allocator.Attribution, error) {
	a := allocator.Attribution{Referrer: req.Referrer, LandingPage: req.URL, UserAgent: userAgent}
	if req.URL != "" {
		u, err := url.Parse(req.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return a, errors.New("url must be the page's http or https URL")
		}
		queryAttribution(u.RawQuery, &a)
	}
	for _, f := range []struct {
		v   *string
		dst *string
	}{
		{req.Source, &a.Source}, {req.Medium, &a.Medium}, {req.Campaign, &a.Campaign},
		{req.Term, &a.Term}, {req.Content, &a.Content}, {req.GCLID, &a.GCLID},
		{req.GBRAID, &a.GBRAID}, {req.WBRAID, &a.WBRAID}, {req.FBCLID, &a.FBCLID}, {req.MSCLKID, &a.MSCLKID},
	} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	a.Clamp()
	return a, nil
}

// queryAttribution fills a's fields from a URL's query, as url.ParseQuery
// and Get would (the first value of a parameter wins; a pair with a ';'
// or a bad escape is passed over), without building the map.
func queryAttribution(query string, a *allocator.Attribution) {
	var seen [len(allocator.QueryParams)]bool
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if strings.Contains(pair, ";") {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(key, "%+") {
			var err error
			if key, err = url.QueryUnescape(key); err != nil {
				continue
			}
		}
		i := allocator.QueryParamIndex(key)
		if i < 0 || seen[i] {
			continue
		}
		v, err := url.QueryUnescape(value)
		if err != nil {
			continue
		}
		seen[i], *a.QueryFieldAt(i) = true, v
	}
}

// catchUpBeforeDenying makes sure the node's state has every acknowledged
// write before a visitor is told something does not exist. A leader that
// has applied all it committed is sure already; any other node asks the
// leader how far it is, trying for up to 2 s (a node that has just
// restarted learns who leads within a heartbeat). If the node cannot tell,
// the visitor gets a 503: the snippet keeps what it has and asks again.
func (s *Server) catchUpBeforeDenying() error {
	if s.node.IsLeader() && s.node.AppliedAll() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for {
		err := s.node.CatchUp(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) heartbeat(rc *fasthttp.RequestCtx, p []string) {
	id, err := allocator.ParseVisitID(p[0])
	if err != nil {
		writeError(rc, fasthttp.StatusBadRequest, "visit id must be the 32 hexadecimal characters the visit was given")
		return
	}
	v := s.node.State().Visit(id)
	if v == nil {
		// A visit made through another node a moment ago, or before this
		// node restarted, may not have reached it yet. A 410 makes the
		// snippet start over, so it is said only when sure.
		if err := s.catchUpBeforeDenying(); err != nil {
			writeError(rc, fasthttp.StatusServiceUnavailable, "this node is catching up with the cluster; try again")
			return
		}
		v = s.node.State().Visit(id)
	}
	if v == nil || v.Pool.Deleted() {
		s.metrics.heartbeat(heartbeatExpired)
		writeError(rc, fasthttp.StatusGone, "visit expired")
		return
	}
	if !s.fromAllowedOrigin(rc, v.Pool, "", false) {
		return
	}
	if n := v.Number(); n != nil {
		s.node.Heartbeat(id)
		s.metrics.heartbeat(heartbeatOK)
		a := s.numberAnswer(id, n.E164, v.Pool)
		writeVisitAnswer(rc, fasthttp.StatusOK, &a)
		return
	}
	// The visit lost its number (a full pool recycled it, or the pool
	// shrank). Only a free number can change that: ask for one (a log
	// write) if this node's state shows one now, and at most once in
	// refreshEvery per visit through this node. Otherwise the answer comes
	// from the state as it is, and nothing is written: not even a
	// heartbeat, so a visit that waits longer than its pool's idle timeout
	// ends, and its snippet starts a new one.
	if v.Pool.Counts().Free == 0 || !s.limits.refreshes.allow(id, time.Now()) {
		s.metrics.heartbeat(heartbeatWaiting)
		s.answerWaiting(rc, id)
		return
	}
	req := allocator.RequestID(randomBytes())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := s.node.Commit(ctx, &fsm.Refresh{Visit: id, Req: req, At: time.Now()})
	switch {
	case err != nil:
		writeErr(rc, err)
	case errors.Is(r.Err, allocator.ErrUnknownVisit):
		s.metrics.heartbeat(heartbeatExpired)
		writeError(rc, fasthttp.StatusGone, "visit expired")
	case r.Err != nil:
		writeErr(rc, r.Err)
	case r.Number == "":
		s.metrics.heartbeat(heartbeatWaiting)
		s.answerWaiting(rc, id)
	default:
		s.metrics.heartbeat(heartbeatRenumbered)
		a := s.numberAnswer(id, r.Number, v.Pool)
		writeVisitAnswer(rc, fasthttp.StatusOK, &a)
	}
}

// answerWaiting tells a visit without a number to keep the business number
// and to ask again at its next heartbeat.
func (s *Server) answerWaiting(rc *fasthttp.RequestCtx, id allocator.VisitID) {
	a := noSwap(reasonPoolFull)
	a.Visit = id.String()
	a.HeartbeatS = int(s.opt.HeartbeatInterval / time.Second)
	writeVisitAnswer(rc, fasthttp.StatusOK, &a)
}

// Display writes a number the way its own country does: "(415) 555-0123",
// "020 7946 0018". A North American number, on every visit's path, is
// laid out here without the phone library's parse.
func Display(e164 string) string {
	if len(e164) == 12 && strings.HasPrefix(e164, "+1") {
		d := e164[2:]
		return "(" + d[:3] + ") " + d[3:6] + "-" + d[6:]
	}
	return allocator.NationalFormat(e164)
}
