package bench

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"
)

// Model is how visitors behave. Visitors arrive as a Poisson process at
// Rate per second, each at a pool picked uniformly. A visitor stays for an
// exponentially distributed time (mean Stay, at least a second) and views
// a page about every PageEvery; like the snippet, the first page starts a
// visit, every later page sends a heartbeat at once, and between pages a
// heartbeat goes every Heartbeat. A share CallShare of visitors call the
// number on their screen: during the stay (at a uniform moment), or, for a
// share LateShare of callers, after leaving, an exponentially distributed
// LateDelay later (mean; at least a second).
//
// Shortening Heartbeat, Stay, PageEvery and LateDelay compresses time;
// the pools' idle timeout cannot go below 90 s, so a compressed run keeps
// late calls within it or runs long enough for numbers to be reused.
type Model struct {
	Rate      float64
	Stay      time.Duration
	PageEvery time.Duration
	Heartbeat time.Duration
	CallShare float64
	LateShare float64
	LateDelay time.Duration
}

// Defaults of the model: the snippet's heartbeat, a two-minute visit of
// a few pages, one visitor in twenty calling, a fifth of them after they
// left.
const (
	DefaultStay      = 2 * time.Minute
	DefaultPageEvery = 40 * time.Second
	DefaultHeartbeat = 60 * time.Second
	DefaultCallShare = 0.05
	DefaultLateShare = 0.2
	DefaultLateDelay = 2 * time.Minute
)

func (m Model) withDefaults() Model {
	if m.Stay == 0 {
		m.Stay = DefaultStay
	}
	if m.PageEvery == 0 {
		m.PageEvery = DefaultPageEvery
	}
	if m.Heartbeat == 0 {
		m.Heartbeat = DefaultHeartbeat
	}
	if m.CallShare == 0 {
		m.CallShare = DefaultCallShare
	}
	if m.LateShare == 0 {
		m.LateShare = DefaultLateShare
	}
	if m.LateDelay == 0 {
		m.LateDelay = DefaultLateDelay
	}
	return m
}

func (m Model) validate() error {
	var errs []error
	if m.Stay < 0 || m.PageEvery < 0 || m.Heartbeat <= 0 || m.LateDelay < 0 {
		errs = append(errs, errors.New("the model's times must be positive"))
	}
	for _, share := range []float64{m.CallShare, m.LateShare} {
		if share < 0 || share > 1 {
			errs = append(errs, errors.New("the call and late-call shares must be between 0 and 1"))
			break
		}
	}
	return errors.Join(errs...)
}

// Holding is how long a visitor holds a number on average: its stay, less
// the time between its last request and leaving, plus the idle timeout
// after which the number is freed.
func (m Model) Holding(idle time.Duration) time.Duration {
	stay, h := m.Stay.Seconds(), m.Heartbeat.Seconds()
	// The last request before leaving came a page view ago (exponential,
	// mean p) if that is within a heartbeat interval, else somewhere in
	// the last interval: on average p - e^(-h/p)(p + h/2), h/2 without
	// page views.
	gap := h / 2
	if p := m.PageEvery.Seconds(); p > 0 {
		gap = p - math.Exp(-h/p)*(p+h/2)
	}
	// E[max(stay - gap, 0)] for an exponential stay of mean s is s·e^(-gap/s).
	held := stay * math.Exp(-gap/stay)
	return time.Duration((held + idle.Seconds()) * float64(time.Second))
}

// Steady is how long the model takes to hold 95% of the numbers it holds
// in the long run: a number is held for the idle timeout and most of an
// exponential stay, and only after three mean stays are all but e^-3 of
// the stays that started at the beginning over.
func (m Model) Steady(idle time.Duration) time.Duration {
	return (idle + 3*m.Stay).Round(time.Second)
}

// RateFor is the visitor rate at which, by Little's law, a share u of the
// numbers is held on average.
func (m Model) RateFor(u float64, numbers int, idle time.Duration) float64 {
	return u * float64(numbers) / m.Holding(idle).Seconds()
}

// script is what one visitor does, decided before the run from the seed
// and the visitor's index, so the same visitor behaves the same against
// every allocation policy.
type script struct {
	index  uint64
	arrive time.Duration // since the start of the run
	slot   int           // which pool, among one policy's pools
	stay   time.Duration
	pages  []time.Duration // later page views, since arrival
	call   time.Duration   // since arrival; negative for no call
	late   bool            // the call comes after the visitor left
}

// arrivals draws the visitors: arrival times and pools from one stream,
// each visitor's behaviour from a stream of its own.
type arrivals struct {
	m     Model
	seed  uint64
	slots int
	rng   *rand.Rand
	next  time.Duration
	index uint64
}

func newArrivals(m Model, seed uint64, slots int) *arrivals {
	a := &arrivals{m: m, seed: seed, slots: slots, rng: rand.New(rand.NewPCG(seed, 0x6172726976616c73))}
	a.next = a.gap()
	return a
}

func (a *arrivals) gap() time.Duration {
	return time.Duration(a.rng.ExpFloat64() / a.m.Rate * float64(time.Second))
}

// pop returns the next visitor.
func (a *arrivals) pop() *script {
	a.index++
	s := &script{index: a.index, arrive: a.next, slot: a.rng.IntN(a.slots), call: -1}
	a.next += a.gap()
	r := rand.New(rand.NewPCG(a.seed, a.index))
	exp := func(mean time.Duration) time.Duration {
		return max(time.Duration(r.ExpFloat64()*float64(mean)), time.Second)
	}
	s.stay = exp(a.m.Stay)
	if a.m.PageEvery > 0 {
		for at := exp(a.m.PageEvery); at < s.stay; at += exp(a.m.PageEvery) {
			s.pages = append(s.pages, at)
		}
	}
	if r.Float64() < a.m.CallShare {
		if r.Float64() < a.m.LateShare {
			s.late = true
			s.call = s.stay + exp(a.m.LateDelay)
		} else {
			s.call = time.Duration(r.Float64() * float64(s.stay))
		}
	}
	return s
}
