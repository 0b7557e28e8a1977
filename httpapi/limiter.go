package httpapi

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"github.com/dni-dev/dni/allocator"
)

// limiter is what one node limits of what visitors ask: new visits per
// client address, and waiting visits' requests for a number (refreshes).
//
// New visits are capped with a token bucket per address (an IPv6 address
// by its /64: addressKey): perMinute tokens a minute, up to perMinute
// saved. A script hammering the visitor API from one address cannot drain
// a pool. It remembers at most maxClients addresses, forgetting the least
// recently seen first.
type limiter struct {
	mu        sync.Mutex
	perMinute float64
	clients   map[string]*list.Element
	order     *list.List // of *bucket, most recently seen first
	refreshes *refreshes
}

type bucket struct {
	addr   string
	tokens float64
	at     time.Time
}

const maxClients = 100_000

func newLimiter(perMinute int) *limiter {
	return &limiter{
		perMinute: float64(perMinute), clients: map[string]*list.Element{}, order: list.New(),
		refreshes: newRefreshes(refreshEvery, maxRefreshing),
	}
}

// allow takes a token for addr's bucket, if it has one. A negative rate
// allows all.
func (l *limiter) allow(addr string, now time.Time) bool {
	if l.perMinute < 0 {
		return true
	}
	addr = addressKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.clients[addr]
	if !ok {
		if l.order.Len() >= maxClients {
			old := l.order.Back()
			l.order.Remove(old)
			delete(l.clients, old.Value.(*bucket).addr)
		}
		e = l.order.PushFront(&bucket{addr: addr, tokens: l.perMinute, at: now})
		l.clients[addr] = e
	}
	l.order.MoveToFront(e)
	b := e.Value.(*bucket)
	b.tokens = min(l.perMinute, b.tokens+now.Sub(b.at).Minutes()*l.perMinute)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// addressKey is what the per-address limit counts by: an IPv4 address as
// it is, an IPv6 one by its /64. A provider gives each home or phone a /64
// (or more) of its own, so one visitor can take any of 2^64 addresses, and
// two visitors never share a /64. An IPv4 address written as IPv6
// (::ffff:203.0.113.7) is that IPv4 address; anything that does not parse
// counts as itself.
func addressKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// refreshes lets a visit that lost its number ask for a free one (a
// Refresh, a log write) at most once a period through this node. It keeps
// the visits that asked in two generations of a map, the older dropped
// whole when a period has passed: a visit is let through again between one
// and two periods after it last was, and memory stays bounded with no
// sweep. Past max visits in a generation it lets none more through until
// the next: the visits wait, as they would for a free number.
type refreshes struct {
	mu        sync.Mutex
	period    time.Duration
	max       int
	cur, prev map[allocator.VisitID]struct{}
	started   time.Time // of cur
}

// Defaults for refreshes: a waiting visit's heartbeat comes every 60 s, so
// once in 10 s never holds a person back, while a script that sends a
// numberless visit's heartbeat in a loop makes one write in 10 s, not
// thousands. 10,000 visits a generation is about 1 MB at most.
const (
	refreshEvery  = 10 * time.Second
	maxRefreshing = 10_000
)

func newRefreshes(period time.Duration, max int) *refreshes {
	return &refreshes{period: period, max: max, cur: map[allocator.VisitID]struct{}{}, prev: map[allocator.VisitID]struct{}{}}
}

// allow reports whether visit id may ask for a number now, and if so
// remembers that it did.
func (r *refreshes) allow(id allocator.VisitID, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A clock that went back starts a generation too, forgetting nothing.
	if since := now.Sub(r.started); since >= r.period || since < 0 {
		r.prev, r.cur, r.started = r.cur, make(map[allocator.VisitID]struct{}, len(r.cur)), now
		if since >= 2*r.period {
			clear(r.prev) // every visit in it asked a period ago or more
		}
	}
	if _, ok := r.cur[id]; ok {
		return false
	}
	if _, ok := r.prev[id]; ok || len(r.cur) >= r.max {
		return false
	}
	r.cur[id] = struct{}{}
	return true
}
