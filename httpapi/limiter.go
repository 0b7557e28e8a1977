package httpapi

import (
	"container/list"
	"sync"
	"time"
)

// limiter caps new visits per client address with a token bucket each:
// perMinute tokens a minute, up to perMinute saved. A script hammering the
// visitor API from one address cannot drain a pool. It remembers at most
// maxClients addresses, forgetting the least recently seen first.
type limiter struct {
	mu        sync.Mutex
	perMinute float64
	clients   map[string]*list.Element
	order     *list.List // of *bucket, most recently seen first
}

type bucket struct {
	addr   string
	tokens float64
	at     time.Time
}

const maxClients = 100_000

func newLimiter(perMinute int) *limiter {
	return &limiter{perMinute: float64(perMinute), clients: map[string]*list.Element{}, order: list.New()}
}

// allow takes a token for addr, if it has one. A negative rate allows all.
func (l *limiter) allow(addr string, now time.Time) bool {
	if l.perMinute < 0 {
		return true
	}
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
