package httpapi

import (
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
)

// A waiting visit may ask for a number once, then not again until one to
// two periods later, however often it asks; other visits are not held up
// by it; and past the most visits a period remembers, none more asks until
// the next period, so memory stays bounded.
func TestAWaitingVisitAsksForANumberAtMostOnceAPeriod(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	r := newRefreshes(10*time.Second, 3)
	id := func(n byte) allocator.VisitID { return allocator.VisitID{n} }
	for _, c := range []struct {
		visit byte
		at    float64
		want  bool
	}{
		{1, 0, true},
		{1, 0, false},
		{1, 9.9, false},
		{2, 9.9, true},
		{1, 10, false}, // remembered in the older generation
		{1, 19.9, false},
		{2, 19.9, false},
		{1, 20, true},
		{2, 20, true},
		{3, 20, true},
		{4, 20, false}, // three visits remembered this period: the fourth waits
		{4, 30, true},
		{5, 100, true}, // long after: nothing older is remembered
		{1, 100, true},
		{1, 50, false}, // a clock that went back forgets nothing it let through since
		{1, 50.1, false},
	} {
		if got := r.allow(id(c.visit), at(c.at)); got != c.want {
			t.Errorf("visit %d at %v s: allowed %v, want %v", c.visit, c.at, got, c.want)
		}
	}
	if n := len(r.cur) + len(r.prev); n > 2*3 {
		t.Errorf("remembers %d visits, more than two periods' most", n)
	}
}

// IPv6 addresses count by their /64, the network one visitor's provider
// gives them; IPv4 addresses count one by one, in either form.
func TestTheLimitCountsAnIPv6AddressByIts64(t *testing.T) {
	for _, c := range []struct{ addr, key string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:DB8:1:2:0:0:0:9", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := addressKey(c.addr); got != c.key {
			t.Errorf("addressKey(%q) = %q, want %q", c.addr, got, c.key)
		}
	}
}
