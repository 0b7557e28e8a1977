package httpapi

import (
	"sync"
	"sync/atomic"
	"time"
)

// throttle slows down whoever guesses admin tokens. It counts failed
// sign-ins (a wrong bearer token on the admin API, a wrong token in the
// admin pages' login form) per key: the client's address (IPv6 by /64,
// which one host usually holds whole) and the id of a recorded token a
// wrong guess was aimed at. After freeFailures, each failure makes the key
// wait, twice as long as the last time, up to maxThrottle; an attempt
// while it waits is refused unchecked, so it teaches the guesser nothing.
//
// A correct token costs two lock-free map reads: sync.Map's Load takes no
// lock, and neither does reading an entry's deadline. Only failures take
// locks. The table holds at most maxThrottled keys; a key forgotten for
// forgetThrottled is dropped. Once the table is full of keys that still
// count, keys it has no room for share one entry: under a guessing attack
// from more addresses than that, newcomers wait together.
type throttle struct {
	free    int // failures before the first wait; negative: no throttle
	entries sync.Map
	size    atomic.Int64
	full    atomic.Bool  // a failure found no room: newcomers share overflow
	swept   atomic.Int64 // unix nanoseconds of the last sweep
	sweep   sync.Mutex   // one sweep at a time
	// overflow stands for every key the table has no room for.
	overflow throttled
}

// throttled is one key's failures.
type throttled struct {
	mu       sync.Mutex // failures only
	failures int
	last     time.Time    // the last failure
	until    atomic.Int64 // unix nanoseconds until which attempts wait
}

// The throttle's figures: a few failures free, a wait from one second that
// doubles with each failure, at most ten minutes, and a key forgotten a
// quarter of an hour after its last failure.
const (
	DefaultSignInFailures = 5
	firstThrottle         = time.Second
	maxThrottle           = 10 * time.Minute
	forgetThrottled       = 15 * time.Minute
	maxThrottled          = 10_000
	sweepEvery            = time.Minute
)

func newThrottle(free int) *throttle {
	if free == 0 {
		free = DefaultSignInFailures
	}
	return &throttle{free: free}
}

// wait returns how long attempts under any of keys must still wait: 0
// means go ahead.
func (t *throttle) wait(now time.Time, keys ...string) time.Duration {
	if t.free < 0 {
		return 0
	}
	var until int64
	for _, k := range keys {
		e, ok := t.entries.Load(k)
		switch {
		case ok:
			until = max(until, e.(*throttled).until.Load())
		case t.full.Load():
			until = max(until, t.overflow.until.Load())
		}
	}
	return max(0, time.Duration(until-now.UnixNano()))
}

// fail counts a failed attempt under key.
func (t *throttle) fail(now time.Time, key string) {
	if t.free < 0 {
		return
	}
	if now.UnixNano()-t.swept.Load() > int64(sweepEvery) || t.size.Load() >= maxThrottled {
		t.forget(now)
	}
	e := &t.overflow
	if v, ok := t.entries.Load(key); ok {
		e = v.(*throttled)
	} else if t.size.Load() < maxThrottled {
		v, loaded := t.entries.LoadOrStore(key, new(throttled))
		if !loaded {
			t.size.Add(1)
		}
		e = v.(*throttled)
	} else {
		t.full.Store(true)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if now.Sub(e.last) > forgetThrottled {
		e.failures = 0
	}
	e.failures++
	e.last = now
	if n := e.failures - t.free; n > 0 {
		d := maxThrottle
		if n <= 20 {
			d = min(maxThrottle, firstThrottle<<(n-1))
		}
		e.until.Store(now.Add(d).UnixNano())
	}
}

// forget drops the keys whose last failure is older than forgetThrottled.
func (t *throttle) forget(now time.Time) {
	if !t.sweep.TryLock() {
		return
	}
	defer t.sweep.Unlock()
	t.swept.Store(now.UnixNano())
	t.entries.Range(func(k, v any) bool {
		e := v.(*throttled)
		e.mu.Lock()
		stale := now.Sub(e.last) > forgetThrottled
		e.mu.Unlock()
		if stale && t.entries.CompareAndDelete(k, v) {
			t.size.Add(-1)
		}
		return true
	})
	if t.size.Load() < maxThrottled {
		t.full.Store(false)
	}
}
