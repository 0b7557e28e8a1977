package provision_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/internal/testkit"
	"github.com/dni-dev/dni/provision"
	"github.com/dni-dev/dni/provision/standin"
)

// The reconciler tests run the real pieces end to end: real cluster nodes
// (Raft over TCP, each with its HTTP API, through which followers forward
// writes) run the Reconciler as a leader loop, and it buys numbers with the
// real twilio-go client from a Twilio stand-in on a local port.

const (
	// publicURL is where the tests' Twilio would send calls; the trailing
	// slash must not double in the hooks.
	publicURL    = "https://calls.example.com/"
	voiceHook    = "https://calls.example.com/twilio/voice"
	fallbackHook = "https://calls.example.com/twilio/fallback"
	statusHook   = "https://calls.example.com/twilio/status"

	// businessNumber is every test pool's swap target, in area code 415.
	businessNumber = testkit.BusinessNumber
)

// nearSF are the area codes within the reconciler's 50 miles of 415, by
// the stand-in's map: what a pool in 415 falls back to.
var nearSF = []string{"415", "628", "510", "650", "408"}

// account is a Twilio stand-in and the real Twilio provider that reaches it.
type account struct {
	sb *standin.Server
	tw *provision.Twilio
}

func newAccount(t *testing.T) account {
	t.Helper()
	sb := startStandin(t, standin.Options{})
	return account{sb: sb, tw: twilioAt(t, sb.URL(), provision.TwilioConfig{})}
}

// newReconciler returns a reconciler that passes every 50 ms and lists the
// account every syncEvery, its metrics on reg.
func newReconciler(p provision.Provider, reg prometheus.Registerer, syncEvery time.Duration, log *slog.Logger) *provision.Reconciler {
	rec := provision.NewReconciler(p, publicURL, reg, log)
	rec.Every, rec.SyncEvery = 50*time.Millisecond, syncEvery
	return rec
}

// rig is a one-node cluster whose leader loop runs a reconciler against a
// stand-in.
type rig struct {
	account
	rec  *provision.Reconciler
	reg  *prometheus.Registry
	node *testkit.Node
}

// newRig returns once the node leads and its reconciler has started: it
// has listed the account once.
func newRig(t *testing.T, syncEvery time.Duration) *rig {
	t.Helper()
	r := &rig{account: newAccount(t), reg: prometheus.NewRegistry()}
	r.rec = newReconciler(r.tw, r.reg, syncEvery, testkit.Logger(t, "n1"))
	r.node = testkit.StartNode(t, testkit.Options{Config: func(cfg *cluster.Config) {
		cfg.LeaderLoops = append(cfg.LeaderLoops, func(ctx context.Context, n *cluster.Node) { r.rec.Run(ctx, n) })
	}})
	testkit.Eventually(t, "the reconciler to list the account", func() bool { return r.sb.Stats().Lists > 0 })
	return r
}

// syncs waits until the reconciler has listed the account n more times:
// n-1 whole passes at least have run in between.
func (r *rig) syncs(t *testing.T, n int64) {
	t.Helper()
	want := r.sb.Stats().Lists + n
	testkit.Eventually(t, fmt.Sprintf("%d more lists of the account", n), func() bool { return r.sb.Stats().Lists >= want })
}

// createPool creates a pool with no numbers: the reconciler buys them.
func createPool(t *testing.T, n *testkit.Node, id string, size int, areaCode string) {
	t.Helper()
	st := allocator.Settings{
		Name: id, Size: size, AreaCode: areaCode, SwapTarget: businessNumber, ForwardTo: []string{"+14155550100"},
	}.WithDefaults()
	n.Command(&fsm.CreatePool{ID: id, Key: "key-" + id, Settings: st, At: time.Now()})
}

// updates numbers the tests' pool updates: each is a request of its own,
// not a retry of the one before.
var updates atomic.Uint32

// resize sets the pool's size and returns the numbers it took out of
// service.
func resize(t *testing.T, n *testkit.Node, id string, size int) []string {
	t.Helper()
	var req allocator.RequestID
	req[0] = byte(updates.Add(1))
	return n.Command(&fsm.UpdatePool{ID: id, Req: req, Patch: allocator.Patch{Size: &size}, At: time.Now()}).Retired
}

// waitActive waits until the pool has its size in numbers and the account
// holds exactly the numbers the state has in service, and returns the pool.
func waitActive(t *testing.T, n *testkit.Node, sb *standin.Server, id string) *allocator.Pool {
	t.Helper()
	testkit.Eventually(t, "pool "+id+" to be full and match the account", func() error {
		p := n.Node.State().Pool(id)
		if p == nil {
			return fmt.Errorf("no pool %s on %s", id, n.ID)
		}
		if p.Status() != allocator.PoolActive || p.Counts().Releasing > 0 {
			return fmt.Errorf("pool %s is %s with %+v", id, p.Status(), p.Counts())
		}
		return accountMatches(sb, n.Node.State())
	})
	return n.Node.State().Pool(id)
}

// accountMatches says how the account and the state disagree: every number
// the account holds must be in service in the pool its name tags, under
// the SID the state records, and every number dni bought that is in
// service must be on the account.
func accountMatches(sb *standin.Server, s *allocator.State) error {
	inService := map[string]*allocator.Number{}
	for _, p := range s.Pools() {
		for _, n := range p.Numbers() {
			if n.State() == allocator.NumberActive && !n.Owned {
				inService[n.E164] = n
			}
		}
	}
	var errs []error
	for _, h := range sb.Numbers() {
		n := inService[h.PhoneNumber]
		delete(inService, h.PhoneNumber)
		switch {
		case n == nil:
			errs = append(errs, fmt.Errorf("the account holds %s (%s, %q), which no pool has in service", h.PhoneNumber, h.SID, h.FriendlyName))
		case n.ProviderID != h.SID:
			errs = append(errs, fmt.Errorf("%s is %s on the account but %s in the state", h.PhoneNumber, h.SID, n.ProviderID))
		case h.FriendlyName != provision.Tag(n.Pool.ID):
			errs = append(errs, fmt.Errorf("%s serves pool %s but is named %q", h.PhoneNumber, n.Pool.ID, h.FriendlyName))
		}
	}
	for e164, n := range inService {
		errs = append(errs, fmt.Errorf("%s is in service in pool %s but not on the account", e164, n.Pool.ID))
	}
	return errors.Join(errs...)
}

// counter reads a counter from reg; labels are name, value pairs.
func counter(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			matched := 0
			for _, l := range m.GetLabel() {
				for i := 0; i+1 < len(labels); i += 2 {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						matched++
					}
				}
			}
			if 2*matched == len(labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// waitNotice waits until the pool's notice says every part, or, given no
// parts, until it says nothing; and returns it. A pool's notice is set
// after the numbers it explains are recorded.
func waitNotice(t *testing.T, p *allocator.Pool, parts ...string) string {
	t.Helper()
	testkit.Eventually(t, "the pool's notice", func() error {
		n := p.Notice()
		if len(parts) == 0 && n != "" {
			return fmt.Errorf("notice %q stays", n)
		}
		for _, part := range parts {
			if !strings.Contains(n, part) {
				return fmt.Errorf("notice %q does not say %q", n, part)
			}
		}
		return nil
	})
	return p.Notice()
}

// areaCodes lists the area codes of the numbers in service.
func areaCodes(numbers []*allocator.Number) []string {
	var out []string
	for _, n := range numbers {
		if n.State() == allocator.NumberActive {
			out = append(out, provision.AreaCodeOf(n.E164))
		}
	}
	return out
}

func TestANewPoolIsFilledInItsAreaCodeWithNumbersPointedAtTheWebhooks(t *testing.T) {
	r := newRig(t, time.Hour)
	createPool(t, r.node, "sales", 4, "415")
	p := waitActive(t, r.node, r.sb, "sales")

	held := r.sb.Numbers()
	if len(held) != 4 {
		t.Fatalf("the account holds %d numbers, want 4: %+v", len(held), held)
	}
	for _, h := range held {
		got := standin.Number{
			FriendlyName: h.FriendlyName, VoiceURL: h.VoiceURL, VoiceMethod: h.VoiceMethod,
			VoiceFallbackURL: h.VoiceFallbackURL, VoiceFallbackMethod: h.VoiceFallbackMethod,
			StatusCallback: h.StatusCallback, StatusCallbackMethod: h.StatusCallbackMethod,
		}
		want := standin.Number{
			FriendlyName: provision.Tag("sales"), VoiceURL: voiceHook, VoiceMethod: http.MethodPost,
			VoiceFallbackURL: fallbackHook, VoiceFallbackMethod: http.MethodPost,
			StatusCallback: statusHook, StatusCallbackMethod: http.MethodPost,
		}
		if got != want {
			t.Errorf("%s is set to\n%+v, want\n%+v", h.PhoneNumber, got, want)
		}
		if ac := provision.AreaCodeOf(h.PhoneNumber); ac != "415" {
			t.Errorf("bought %s, in area code %q, not 415", h.PhoneNumber, ac)
		}
	}
	for _, n := range p.Numbers() {
		if n.State() != allocator.NumberActive || n.Owned || !strings.HasPrefix(n.ProviderID, "PN") {
			t.Errorf("recorded %s as %s, owned %v, provider id %q", n.E164, n.State(), n.Owned, n.ProviderID)
		}
	}
	if p.Notice() != "" {
		t.Errorf("notice %q on a pool filled in its own area code", p.Notice())
	}
	if got := counter(t, r.reg, "dni_numbers_bought_total"); got != 4 {
		t.Errorf("dni_numbers_bought_total = %v, want 4", got)
	}
}

func TestAPoolIsFilledNearItsBusinessNumberThenAnywhereWhenItsAreaCodeRunsOut(t *testing.T) {
	r := newRig(t, 100*time.Millisecond)
	r.sb.SetFaults(standin.Faults{ExhaustAreaCodes: []string{"415"}})
	createPool(t, r.node, "sales", 4, "415")
	p := waitActive(t, r.node, r.sb, "sales")
	for _, ac := range areaCodes(p.Numbers()) {
		if ac == "415" || !slices.Contains(nearSF, ac) {
			t.Errorf("with 415 sold out, bought in %s: not one of %v", ac, nearSF[1:])
		}
	}
	waitNotice(t, p, "area code 415", "near "+businessNumber)

	r.sb.SetFaults(standin.Faults{ExhaustAreaCodes: nearSF})
	resize(t, r.node, "sales", 6)
	p = waitActive(t, r.node, r.sb, "sales")
	elsewhere := 0
	for _, ac := range areaCodes(p.Numbers()) {
		if !slices.Contains(nearSF, ac) {
			elsewhere++
		}
	}
	if elsewhere != 2 {
		t.Errorf("area codes %v: want 2 numbers from elsewhere, have %d", areaCodes(p.Numbers()), elsewhere)
	}
	notice := waitNotice(t, p, "area code 415", "elsewhere")

	// 415 has numbers again: a full pool keeps the ones it has.
	before, numbers := r.sb.Stats(), r.sb.Numbers()
	r.sb.SetFaults(standin.Faults{})
	r.syncs(t, 3)
	after := r.sb.Stats()
	if after.Buys != before.Buys || after.Releases != before.Releases {
		t.Errorf("with 415 back on sale, a full pool bought %d and released %d numbers",
			after.Buys-before.Buys, after.Releases-before.Releases)
	}
	if got := r.sb.Numbers(); !slices.Equal(got, numbers) {
		t.Errorf("the account's numbers changed from\n%+v to\n%+v", numbers, got)
	}
	if p.Notice() != notice {
		t.Errorf("notice changed from %q to %q", notice, p.Notice())
	}
}

func TestShrinkingAndDeletingAPoolReleaseItsNumbersAtTheProvider(t *testing.T) {
	r := newRig(t, time.Hour)
	createPool(t, r.node, "sales", 6, "415")
	waitActive(t, r.node, r.sb, "sales")

	retired := resize(t, r.node, "sales", 4)
	if len(retired) != 2 {
		t.Fatalf("shrinking 6 to 4 retired %v", retired)
	}
	p := waitActive(t, r.node, r.sb, "sales")
	for _, e164 := range retired {
		if n := r.node.Node.State().Number(e164); n.State() != allocator.NumberReleased || n.ReleasedAt().IsZero() {
			t.Errorf("%s is %s, released at %v", e164, n.State(), n.ReleasedAt())
		}
		for _, h := range r.sb.Numbers() {
			if h.PhoneNumber == e164 {
				t.Errorf("the account still holds %s", e164)
			}
		}
	}
	if got := len(r.sb.Numbers()); got != 4 {
		t.Errorf("the account holds %d numbers, want 4", got)
	}
	if got := len(p.Numbers()); got != 6 {
		t.Errorf("the pool's history has %d numbers, want all 6", got)
	}

	r.node.Command(&fsm.DeletePool{ID: "sales", At: time.Now()})
	testkit.Eventually(t, "the deleted pool's numbers to be released", func() error {
		if s := p.Status(); s != allocator.PoolDeleted {
			return fmt.Errorf("pool is %s with %+v", s, p.Counts())
		}
		if held := r.sb.Numbers(); len(held) > 0 {
			return fmt.Errorf("the account still holds %+v", held)
		}
		return nil
	})
	for _, n := range p.Numbers() {
		if n.State() != allocator.NumberReleased {
			t.Errorf("%s is %s in a deleted pool", n.E164, n.State())
		}
	}
	if got := len(p.Numbers()); got != 6 {
		t.Errorf("the deleted pool's history has %d numbers, want 6", got)
	}
	st := r.sb.Stats()
	if st.Buys != 6 || st.Releases != 6 {
		t.Errorf("the account saw %d buys and %d releases, want 6 of each", st.Buys, st.Releases)
	}
	if got := counter(t, r.reg, "dni_numbers_released_total"); got != 6 {
		t.Errorf("dni_numbers_released_total = %v, want 6", got)
	}
}

// crashAfterBuy is one node's provider. The first time any node's Buy
// succeeds, it halts that node, as if it crashed after the provider sold
// the number and before the number could be recorded.
type crashAfterBuy struct {
	provision.Provider
	node  atomic.Pointer[cluster.Node] // the node this provider's reconciler runs on
	crash *crash
}

type crash struct {
	done   atomic.Bool
	halted chan struct{} // closed once the node has halted
	// Set before halted is closed.
	victim *cluster.Node
	orphan provision.Owned
}

func (p *crashAfterBuy) Buy(ctx context.Context, e164 string, cfg provision.NumberConfig) (provision.Owned, error) {
	o, err := p.Provider.Buy(ctx, e164, cfg)
	if err != nil || !p.crash.done.CompareAndSwap(false, true) {
		return o, err
	}
	n := p.node.Load()
	p.crash.victim, p.crash.orphan = n, o
	// Halt waits for the leader loops, this one among them, so it runs
	// aside. The loop's context ends after the node has stopped taking
	// writes: once it has, the number bought cannot be recorded.
	go func() {
		n.Halt()
		close(p.crash.halted)
	}()
	<-ctx.Done()
	return o, nil
}

func TestALeaderKilledBetweenBuyingANumberAndRecordingItLeaksNothing(t *testing.T) {
	acct := newAccount(t)
	crash := &crash{halted: make(chan struct{})}
	regs := map[string]*prometheus.Registry{}
	c := testkit.StartCluster(t, 3, testkit.Options{Config: func(cfg *cluster.Config) {
		reg := prometheus.NewRegistry()
		p := &crashAfterBuy{Provider: acct.tw, crash: crash}
		rec := newReconciler(p, reg, time.Hour, testkit.Logger(t, cfg.NodeID))
		regs[cfg.NodeID] = reg
		cfg.LeaderLoops = append(cfg.LeaderLoops, func(ctx context.Context, n *cluster.Node) {
			p.node.Store(n)
			rec.Run(ctx, n)
		})
	}})

	createPool(t, c.Leader(), "sales", 4, "415")
	testkit.Eventually(t, "a node to buy a number and halt", func() bool {
		select {
		case <-crash.halted:
			return true
		default:
			return false
		}
	})
	var victim *testkit.Node
	for _, n := range c.Running() {
		if n.Node == crash.victim {
			victim = n
		}
	}
	c.Kill(victim.ID) // halted already: this takes its HTTP API down too

	leader := c.Leader()
	p := waitActive(t, leader, acct.sb, "sales")

	held := acct.sb.Numbers()
	if len(held) != 4 {
		t.Errorf("the account holds %d numbers, want 4: %+v", len(held), held)
	}
	switch n := leader.Node.State().Number(crash.orphan.E164); {
	case n == nil:
		t.Errorf("%s, bought as %s halted, is not recorded", crash.orphan.E164, victim.ID)
	case n.State() != allocator.NumberActive || n.ProviderID != crash.orphan.SID || n.Pool != p:
		t.Errorf("%s, bought as %s %s halted, is %s in pool %s as %s", n.E164, crash.orphan.SID, victim.ID, n.State(), n.Pool.ID, n.ProviderID)
	}
	if st := acct.sb.Stats(); st.Buys != 4 || st.Releases != 0 {
		t.Errorf("the account saw %d buys and %d releases, want 4 and none", st.Buys, st.Releases)
	}
	if got := counter(t, regs[leader.ID], "dni_numbers_adopted_total"); got != 1 {
		t.Errorf("the new leader adopted %v numbers, want 1", got)
	}
	bought := 0.0
	for _, reg := range regs {
		bought += counter(t, reg, "dni_numbers_bought_total")
	}
	if bought != 4 {
		t.Errorf("the nodes bought %v numbers in all, want 4", bought)
	}
	c.EnsureSame()
}

func TestRateLimitsAndFailuresBackOffAndANumberSoldUnderneathIsSkipped(t *testing.T) {
	r := newRig(t, time.Hour)
	r.sb.SetFaults(standin.Faults{RateLimitNext: 1, FailNext: 1, TakeOnBuy: 1})
	began := time.Now()
	createPool(t, r.node, "sales", 4, "415")
	p := waitActive(t, r.node, r.sb, "sales")

	// Each failure waits at least a second, not the 50 ms between passes.
	if took := time.Since(began); took < 2*time.Second {
		t.Errorf("filled the pool %v after a rate limit and a failure: no backoff", took)
	}
	st := r.sb.Stats()
	if st.RateLimited != 1 || st.Failed != 1 {
		t.Errorf("the stand-in rate-limited %d and failed %d requests, want 1 and 1", st.RateLimited, st.Failed)
	}
	// The first number for sale in 415 was sold to someone else between
	// search and buy; the reconciler bought the next ones instead.
	const taken = "+14155550100"
	if st.Buys != 5 {
		t.Errorf("%d buys: want 4, and the one that lost its number", st.Buys)
	}
	if n := r.node.Node.State().Number(taken); n != nil {
		t.Errorf("recorded %s, which was sold to someone else, as %s", taken, n.State())
	}
	if got := areaCodes(p.Numbers()); !slices.Equal(got, []string{"415", "415", "415", "415"}) {
		t.Errorf("area codes %v, want 415 for all 4", got)
	}
	for _, kind := range []string{"rate_limited", "unavailable"} {
		if got := counter(t, r.reg, "dni_provider_errors_total", "kind", kind); got != 1 {
			t.Errorf("dni_provider_errors_total{kind=%q} = %v, want 1", kind, got)
		}
	}
	if got := counter(t, r.reg, "dni_provider_errors_total", "kind", "other"); got != 0 {
		t.Errorf("a number sold underneath counted as %v provider errors", got)
	}
}

func TestANumberTaggedForAPoolThatIsFullIsAdoptedAndReleased(t *testing.T) {
	r := newRig(t, 100*time.Millisecond)
	createPool(t, r.node, "sales", 4, "415")
	waitActive(t, r.node, r.sb, "sales")

	ctx := context.Background()
	found, err := r.tw.Search(ctx, provision.Query{AreaCode: "415", Limit: 1})
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	extra, err := r.tw.Buy(ctx, found[0].E164, r.rec.Config("sales"))
	if err != nil {
		t.Fatalf("buy: %v", err)
	}
	testkit.Eventually(t, "the number tagged for the full pool to be adopted and released", func() error {
		switch n := r.node.Node.State().Number(extra.E164); {
		case n == nil:
			return fmt.Errorf("%s, tagged for the full pool, is not recorded", extra.E164)
		case n.State() != allocator.NumberReleased:
			return fmt.Errorf("%s, tagged for the full pool, is %s", extra.E164, n.State())
		}
		return nil
	})
	p := waitActive(t, r.node, r.sb, "sales")
	if n := r.node.Node.State().Number(extra.E164); n.Pool != p || n.ProviderID != extra.SID {
		t.Errorf("adopted %s into pool %s as %s, want pool sales as %s", n.E164, n.Pool.ID, n.ProviderID, extra.SID)
	}
	if got := len(r.sb.Numbers()); got != 4 {
		t.Errorf("the account holds %d numbers, want the pool's 4", got)
	}
	if got := len(p.Numbers()); got != 5 {
		t.Errorf("the pool's history has %d numbers, want 4 and the adopted one", got)
	}
	if a, rel := counter(t, r.reg, "dni_numbers_adopted_total"), counter(t, r.reg, "dni_numbers_released_total"); a != 1 || rel != 1 {
		t.Errorf("adopted %v and released %v numbers, want 1 and 1", a, rel)
	}
}

func TestANumberRemovedAtTheProviderIsReportedNotBoughtBackAndReplacedOnceReleased(t *testing.T) {
	r := newRig(t, 100*time.Millisecond)
	createPool(t, r.node, "sales", 4, "415")
	p := waitActive(t, r.node, r.sb, "sales")

	lost := r.sb.Numbers()[0]
	if err := r.sb.RemoveNumber(lost.SID); err != nil {
		t.Fatal(err)
	}
	waitNotice(t, p, lost.PhoneNumber, "release it in dni")
	// Losing a number is for the operator to see: dni neither releases it
	// nor buys another on its own.
	before := r.sb.Stats()
	r.syncs(t, 3)
	if n := r.node.Node.State().Number(lost.PhoneNumber); n.State() != allocator.NumberActive {
		t.Errorf("%s, gone from the account, is %s before an operator released it", lost.PhoneNumber, n.State())
	}
	if after := r.sb.Stats(); after.Buys != before.Buys || after.Releases != before.Releases {
		t.Errorf("bought %d and released %d numbers while the lost one was in service",
			after.Buys-before.Buys, after.Releases-before.Releases)
	}

	// The lost number is for sale again, first in 415; while dni has it in
	// service, growing the pool must buy another.
	resize(t, r.node, "sales", 5)
	testkit.Eventually(t, "the grown pool to have 5 numbers in service", func() error {
		if c := p.Counts(); c.Active != 5 {
			return fmt.Errorf("%d numbers in service, want 5", c.Active)
		}
		return nil
	})
	if after := r.sb.Stats(); after.Buys != before.Buys+1 {
		t.Errorf("growing the pool by one took %d buys", after.Buys-before.Buys)
	}
	for _, h := range r.sb.Numbers() {
		if h.PhoneNumber == lost.PhoneNumber {
			t.Errorf("bought %s back as %s while it was in service as %s", h.PhoneNumber, h.SID, lost.SID)
		}
	}

	r.node.Command(&fsm.MarkRelease{E164: lost.PhoneNumber, At: time.Now()})
	p = waitActive(t, r.node, r.sb, "sales")
	waitNotice(t, p)
	numbers := p.Numbers()
	if len(numbers) != 6 {
		t.Fatalf("the pool's history has %d numbers, want 5 and the replacement", len(numbers))
	}
	for _, n := range numbers {
		if n.ProviderID == lost.SID && n.State() != allocator.NumberReleased {
			t.Errorf("%s (%s) is %s after its release", n.E164, n.ProviderID, n.State())
		}
	}
}

func TestAPoolThatLostManyNumbersAtTheProviderSaysHowMany(t *testing.T) {
	r := newRig(t, time.Hour)
	createPool(t, r.node, "sales", 30, "415")
	p := waitActive(t, r.node, r.sb, "sales")
	held := r.sb.Numbers()
	for _, h := range held[:20] {
		if err := r.sb.RemoveNumber(h.SID); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.rec.Sync(context.Background(), r.node.Node); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	notice := p.Notice()
	if !strings.Contains(notice, held[0].PhoneNumber) || !strings.Contains(notice, "15 more") {
		t.Errorf("with 20 numbers gone from the account, the notice is %q", notice)
	}
}

func TestANumberWhoseHooksDriftedIsSetRight(t *testing.T) {
	r := newRig(t, 100*time.Millisecond)
	createPool(t, r.node, "sales", 4, "415")
	waitActive(t, r.node, r.sb, "sales")

	h := r.sb.Numbers()[0]
	drifted := provision.NumberConfig{FriendlyName: "someone's test", VoiceURL: "https://old.example/voice"}
	if _, err := r.tw.Update(context.Background(), h.SID, drifted); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the drifted number to be set right", func() error {
		n := r.sb.Numbers()[0]
		if n.FriendlyName != provision.Tag("sales") || n.VoiceURL != voiceHook || n.VoiceFallbackURL != fallbackHook || n.StatusCallback != statusHook {
			return fmt.Errorf("%s is set to %+v", n.PhoneNumber, n)
		}
		return nil
	})
	if st := r.sb.Stats(); st.Buys != 4 || st.Releases != 0 {
		t.Errorf("set right with %d buys and %d releases, want the first 4 buys only", st.Buys, st.Releases)
	}
}
