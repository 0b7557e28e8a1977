package bench

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/provision/standin"
)

// The routes the harness reports, in the order of the report.
const (
	routeVisit     = "POST /v1/visits"
	routeHeartbeat = "POST /v1/visits/{id}/heartbeat"
)

// webhookRoutes names the route of each kind of request the stand-in
// makes on a call.
var webhookRoutes = map[string]string{
	"voice": "POST /twilio/voice", "fallback": "POST /twilio/fallback", "whisper": "POST /twilio/whisper",
	"action": "POST /twilio/dial", "status": "POST /twilio/status",
}

var routeOrder = []string{
	routeVisit, routeHeartbeat, "POST /twilio/voice", "POST /twilio/fallback", "POST /twilio/whisper",
	"POST /twilio/dial", "POST /twilio/status",
}

// loader plays the visitor model against the cluster. A dispatcher pops
// the model's events (a visitor arrives, a heartbeat or a page view is
// due, a visitor calls) off a heap when they are due and hands them to
// workers, who make the requests as the snippet would and schedule what
// the visitor does next. The model runs open-loop: visitors keep arriving
// at the model's rate whatever the cluster does, up to the workers'
// concurrency; how late requests go out is reported as lag.
type loader struct {
	r      *run
	o      Options
	client *loadClient
	start  time.Time
	warm   time.Duration // nothing before it is measured
	end    time.Duration // the model stops here

	mu     sync.Mutex
	events eventHeap
	seq    uint64
	wake   chan struct{}
	work   chan event
	arr    *arrivals
	active map[*visitor]struct{}

	routes map[string]*Histogram // completed in the window
	lag    *Histogram
	errs   errorCounts

	// Totals for the progress line.
	visits, beats, calls, hooks atomic.Int64

	tmu        sync.Mutex
	truths     []callTruth
	acked      []ackedVisit
	untracked  []int // per policy, in the window
	gone       int
	placing    sync.WaitGroup
	notPlaced  int // calls due after the end, never placed
	callerSeed atomic.Uint64
}

// visitor is one visitor of one policy's pool. A visitor's requests run
// one at a time, as the snippet's do; its call reads what it shows.
type visitor struct {
	s    *script
	pool *benchPool

	mu      sync.Mutex
	visit   string        // the visit it holds, or ""
	number  string        // the number on its screen; "" for the business number
	lastAck time.Duration // when the cluster last acknowledged the visit
	page    int           // its next page view, in s.pages
}

// callTruth is one call placed: who really called, and what dni and the
// stand-in made of it.
type callTruth struct {
	policy   int
	sid      string
	visit    allocator.VisitID // the caller's visit, the one that showed the number
	late     bool
	inWindow bool
	// voiceAcked: dni answered the voice (or fallback) webhook, so the
	// call must be in its records; statusAcked: it answered the status
	// callback, so the call's final status must be too.
	voiceAcked, statusAcked bool
}

// ackedVisit is a visit the cluster acknowledged, and when it last did.
type ackedVisit struct {
	id      allocator.VisitID
	lastAck time.Duration
}

type eventKind uint8

const (
	evNew    eventKind = iota // the next visitor arrives (dispatcher)
	evArrive                  // a visitor's first page
	evBeat                    // a heartbeat is due
	evPage                    // a later page view
	evCall                    // a visitor calls (dispatcher)
)

type event struct {
	at   time.Duration
	seq  uint64
	kind eventKind
	v    *visitor
	s    *script // evNew
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newLoader(r *run) *loader {
	o := r.o
	l := &loader{
		r: r, o: o, client: newLoadClient(r.t, o.Workers),
		warm: o.Warmup, end: o.Warmup + o.Duration,
		wake: make(chan struct{}, 1), work: make(chan event, o.Workers),
		arr:    newArrivals(o.Model, o.Seed, len(r.policies[0].pools)),
		active: map[*visitor]struct{}{},
		routes: map[string]*Histogram{}, lag: new(Histogram),
		untracked: make([]int, len(r.policies)),
		errs:      errorCounts{m: map[string]int64{}},
	}
	for _, name := range routeOrder {
		l.routes[name] = new(Histogram)
	}
	l.client.unreachable = func(n *node, err error) {
		l.errs.add(fmt.Sprintf("node %s unreachable (request sent to the next)", n.name), 0)
	}
	return l
}

// now is the time since the load started.
func (l *loader) now() time.Duration { return time.Since(l.start) }

func (l *loader) inWindow(at time.Duration) bool { return at >= l.warm && at <= l.end }

// push schedules an event and wakes the dispatcher if it sleeps.
func (l *loader) push(e event) {
	l.mu.Lock()
	l.seq++
	e.seq = l.seq
	heap.Push(&l.events, e)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// play runs the model from l.start until the end, then waits for the
// requests and calls under way.
func (l *loader) play(ctx context.Context) {
	first := l.arr.pop()
	l.push(event{at: first.arrive, kind: evNew, s: first})
	var workers sync.WaitGroup
	for range l.o.Workers {
		workers.Go(func() { l.worker(ctx) })
	}
	l.dispatch(ctx)
	close(l.work)
	workers.Wait()
	l.mu.Lock()
	for _, e := range l.events {
		if e.kind == evCall {
			l.notPlaced++
		}
	}
	for v := range l.active {
		l.leave(v)
	}
	l.mu.Unlock()
	l.placing.Wait()
}

func (l *loader) dispatch(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := l.now()
		if now >= l.end || ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		if len(l.events) == 0 || l.events[0].at > now {
			sleep := l.end - now
			if len(l.events) > 0 {
				sleep = min(sleep, l.events[0].at-now)
			}
			l.mu.Unlock()
			timer.Reset(sleep)
			select {
			case <-timer.C:
			case <-l.wake:
			case <-ctx.Done():
			}
			continue
		}
		e := heap.Pop(&l.events).(event)
		l.mu.Unlock()
		if l.inWindow(now) {
			l.lag.Record(now - e.at)
		}
		switch e.kind {
		case evNew:
			for _, pol := range l.r.policies {
				v := &visitor{s: e.s, pool: pol.pools[e.s.slot]}
				l.mu.Lock()
				l.active[v] = struct{}{}
				l.mu.Unlock()
				if e.s.call >= 0 {
					l.push(event{at: e.s.arrive + e.s.call, kind: evCall, v: v})
				}
				l.send(ctx, event{at: e.at, kind: evArrive, v: v})
			}
			s := l.arr.pop()
			l.push(event{at: s.arrive, kind: evNew, s: s})
		case evCall:
			l.call(ctx, e.v, e.at)
		default:
			l.send(ctx, e)
		}
	}
}

func (l *loader) send(ctx context.Context, e event) {
	select {
	case l.work <- e:
	case <-ctx.Done():
	}
}

func (l *loader) worker(ctx context.Context) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	for e := range l.work {
		if ctx.Err() != nil {
			continue
		}
		switch e.kind {
		case evArrive:
			l.startVisit(e.v, req, resp)
		case evBeat, evPage:
			l.heartbeat(e.v, e.kind == evPage, req, resp)
		}
		l.next(e.v)
	}
}

// next schedules the visitor's next request: its next page view, or its
// next heartbeat if it holds a visit and that comes first; or, when the
// next would come after it leaves, lets it go.
func (l *loader) next(v *visitor) {
	now := l.now()
	v.mu.Lock()
	at, kind, stays := v.due(now, l.o.Model.Heartbeat)
	v.mu.Unlock()
	if !stays {
		l.mu.Lock()
		l.leave(v)
		l.mu.Unlock()
		return
	}
	l.push(event{at: max(at, now), kind: kind, v: v})
}

// due is the visitor's next request after now: its next page view, or its
// next heartbeat if it holds a visit and that comes first. stays is false
// when the next would come after the visitor leaves. The caller holds v.mu.
func (v *visitor) due(now, heartbeat time.Duration) (at time.Duration, kind eventKind, stays bool) {
	at, kind = -1, evPage
	if v.page < len(v.s.pages) {
		at = v.s.arrive + v.s.pages[v.page]
	}
	if v.visit != "" {
		if beat := now + heartbeat; at < 0 || beat < at {
			at, kind = beat, evBeat
		}
	}
	if kind == evPage && at >= 0 {
		v.page++
	}
	return at, kind, at >= 0 && at < v.s.arrive+v.s.stay
}

// leave records the visitor's visit as acknowledged and forgets the
// visitor; its call, if it calls later, still knows what it saw. The
// caller holds l.mu.
func (l *loader) leave(v *visitor) {
	if _, ok := l.active[v]; !ok {
		return
	}
	delete(l.active, v)
	v.mu.Lock()
	visit, last := v.visit, v.lastAck
	v.mu.Unlock()
	l.ack(visit, last)
}

func (l *loader) ack(visit string, at time.Duration) {
	if visit == "" {
		return
	}
	id, err := allocator.ParseVisitID(visit)
	if err != nil {
		return
	}
	l.tmu.Lock()
	l.acked = append(l.acked, ackedVisit{id: id, lastAck: at})
	l.tmu.Unlock()
}

// visitAnswer is what the visitor API answers.
type visitAnswer struct {
	Visit  string `json:"visit"`
	Number string `json:"number"`
	Reason string `json:"reason"`
}

// benchUserAgent is the browser the bench's visitors say they are.
const benchUserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 dni-bench"

// startVisit starts a visit, as the snippet does on a tab's first page and
// after its visit expired.
func (l *loader) startVisit(v *visitor, req *fasthttp.Request, resp *fasthttp.Response) {
	req.Reset()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("text/plain;charset=UTF-8")
	req.Header.SetUserAgent(benchUserAgent)
	req.SetBody(fmt.Appendf(nil, `{"pool":%q,"url":"https://shop.example/landing?utm_source=bench&utm_medium=cpc&utm_campaign=slot%d&gclid=G%d"}`,
		v.pool.key, v.s.slot, v.s.index))
	status, a, at := l.send1(routeVisit, req, resp)
	l.visits.Add(1)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.visit, v.number = "", "" // the snippet falls back to the business number
	switch status {
	case fasthttp.StatusCreated:
		v.visit, v.number, v.lastAck = a.Visit, a.Number, at
	case fasthttp.StatusOK:
		l.errs.add(routeVisit+": no number ("+a.Reason+")", 0)
	}
}

// heartbeat sends the visit's heartbeat, on a timer or because the visitor
// opened another page; a visitor without a visit starts one on a new page.
func (l *loader) heartbeat(v *visitor, page bool, req *fasthttp.Request, resp *fasthttp.Response) {
	v.mu.Lock()
	visit, last := v.visit, v.lastAck
	v.mu.Unlock()
	if visit == "" {
		if page {
			l.startVisit(v, req, resp)
		}
		return
	}
	req.Reset()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("text/plain;charset=UTF-8")
	status, a, at := l.sendPath(routeHeartbeat, "/v1/visits/"+visit+"/heartbeat", req, resp)
	l.beats.Add(1)
	switch status {
	case fasthttp.StatusOK:
		v.mu.Lock()
		// A heartbeat answered with a number kept the visit alive. One
		// answered without (the visit lost its number to a full pool and
		// waits) wrote nothing: the visit still ends an idle timeout after
		// it last held a number, and the snippet then starts a new one.
		v.number = a.Number
		if a.Number != "" {
			v.lastAck = at
		}
		v.mu.Unlock()
	case fasthttp.StatusGone:
		// A visit the cluster acknowledged so recently that it cannot have
		// expired is gone: an acknowledged write lost, or a node that
		// answered before it caught up.
		if at-last < l.o.IdleTimeout-l.o.Model.Heartbeat-5*time.Second {
			l.tmu.Lock()
			l.gone++
			l.tmu.Unlock()
			l.errs.add(routeHeartbeat+": 410 for a visit too recent to have expired", 0)
		}
		l.ack(visit, last)
		v.mu.Lock()
		v.visit, v.number = "", ""
		v.mu.Unlock()
		l.startVisit(v, req, resp)
	}
}

func (l *loader) send1(route string, req *fasthttp.Request, resp *fasthttp.Response) (int, visitAnswer, time.Duration) {
	return l.sendPath(route, "/v1/visits", req, resp)
}

// sendPath sends one visitor request, records its latency and any error,
// and returns its status (0 if none came) and answer.
func (l *loader) sendPath(route, path string, req *fasthttp.Request, resp *fasthttp.Response) (int, visitAnswer, time.Duration) {
	t0 := time.Now()
	err := l.client.do(req, resp, path)
	at := l.now()
	if l.inWindow(at) {
		l.routes[route].Record(time.Since(t0))
	}
	var a visitAnswer
	if err != nil {
		l.errs.add(route+": "+errKind(err), 0)
		return 0, a, at
	}
	status := resp.StatusCode()
	switch {
	case status == fasthttp.StatusOK || status == fasthttp.StatusCreated:
		if json.Unmarshal(resp.Body(), &a) != nil {
			l.errs.add(route+": unreadable answer", 0)
			return 0, a, at
		}
	case status != fasthttp.StatusGone:
		l.errs.add(fmt.Sprintf("%s: HTTP %d %s", route, status, errorMessage(resp.Body())), status)
	}
	return status, a, at
}

// call has the visitor dial the number on its screen, through the
// stand-in, which then calls dni's webhooks as Twilio would.
func (l *loader) call(ctx context.Context, v *visitor, at time.Duration) {
	v.mu.Lock()
	visit, number := v.visit, v.number
	v.mu.Unlock()
	counted := l.inWindow(at)
	if number == "" {
		if counted {
			l.tmu.Lock()
			l.untracked[v.pool.policy]++
			l.tmu.Unlock()
		}
		return
	}
	caller := l.r.t.calls
	if caller == nil {
		l.errs.add("call not placed: no stand-in to place it through (--sandbox-url)", 0)
		return
	}
	id, err := allocator.ParseVisitID(visit)
	if err != nil {
		return
	}
	from := fmt.Sprintf("+1212%07d", l.callerSeed.Add(1)%10_000_000)
	l.calls.Add(1)
	l.placing.Go(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		sid, err := caller.PlaceCall(ctx, number, from)
		if err != nil {
			l.errs.add("place a call: "+errKind(err), 0)
			return
		}
		trace, err := caller.WaitCall(ctx, sid)
		if err != nil {
			l.errs.add("wait for a call: "+errKind(err), 0)
		}
		t := callTruth{policy: v.pool.policy, sid: sid, visit: id, late: v.s.late, inWindow: counted}
		l.webhooks(trace, &t)
		l.tmu.Lock()
		l.truths = append(l.truths, t)
		l.tmu.Unlock()
	})
}

// webhooks records the latency of each request the stand-in made on a
// call, and whether dni acknowledged its voice and status webhooks.
func (l *loader) webhooks(trace standin.CallTrace, t *callTruth) {
	for _, h := range trace.Requests {
		l.hooks.Add(1)
		route := webhookRoutes[h.Kind]
		if route == "" {
			route = "twilio " + h.Kind
		}
		ok := h.StatusCode == 200 && h.Error == ""
		if t.inWindow && l.routes[route] != nil {
			l.routes[route].Record(h.Latency)
		}
		switch {
		case ok && (h.Kind == "voice" || h.Kind == "fallback"):
			t.voiceAcked = true
		case ok && h.Kind == "status":
			t.statusAcked = true
		case !ok && h.StatusCode != 0:
			l.errs.add(fmt.Sprintf("%s: HTTP %d %s", route, h.StatusCode, errorMessage([]byte(h.Body))), h.StatusCode)
		case !ok:
			l.errs.add(route+": "+shorten(h.Error), 0)
		}
	}
	if trace.Status != standin.StatusCompleted {
		l.errs.add("call ended "+trace.Status+": "+shorten(trace.Error), 0)
	}
}

// errorCounts counts errors by kind, and apart the answers with a 5xx
// status: 503s, which a node gives while it cannot tell yet (a client
// asks again), and the others, which are the server's failures.
type errorCounts struct {
	mu          sync.Mutex
	m           map[string]int64
	server      int64
	unavailable int64
}

func (e *errorCounts) add(kind string, status int) {
	e.mu.Lock()
	e.m[kind]++
	switch {
	case status == fasthttp.StatusServiceUnavailable:
		e.unavailable++
	case status >= 500:
		e.server++
	}
	e.mu.Unlock()
}

func (e *errorCounts) total() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n int64
	for _, c := range e.m {
		n += c
	}
	return n
}

// errKind names a client-side error briefly, so that errors of one kind
// count together.
func errKind(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, errNoNode):
		return "no node reachable"
	}
	return shorten(err.Error())
}

// errorMessage reads the message of a JSON error answer.
func errorMessage(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return shorten(e.Error)
	}
	return shorten(string(body))
}

// shorten cuts a message to a length that reads in a table, leaving out
// what differs between occurrences of one error: the URL a request went to
// (its query too) and the addresses of a connection.
func shorten(s string) string {
	s = requestURL.ReplaceAllString(s, "$1")
	s = address.ReplaceAllString(s, "ADDR")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

var (
	requestURL = regexp.MustCompile(`(Post|Get) "[^"]*"`)
	address    = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)
)
