package provision

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// Cluster is what the reconciler needs from the node it runs on.
type Cluster interface {
	State() *allocator.State
	Commit(ctx context.Context, cmd fsm.Command) (fsm.Receipt, error)
	// CatchUp returns once the node's state has every write acknowledged
	// so far: a new leader must not buy for a pool it has not seen filled.
	CatchUp(ctx context.Context) error
}

// A Reconciler keeps the provider's numbers and the replicated state
// together. It runs on the leader only (Run is a leader loop):
//
//   - on start, and every SyncEvery, it lists the account's numbers: a
//     number tagged with one of our pools but not recorded (bought just
//     before a crash or a leader change) is adopted, and a recorded number
//     whose name or hooks drifted is set right;
//   - every pass it buys what pools lack, in their area code, then near
//     the business number, then anywhere, saying so on the pool; each
//     purchase is recorded before the next, so a crash leaks at most one
//     number, which the next list adopts;
//   - it releases at the provider what shrinking, deleting or an operator
//     took out of service, then records the release.
//
// Rate limits and provider failures back off; they never fail a pool.
type Reconciler struct {
	Provider Provider
	// PublicURL is where Twilio reaches the cluster's webhooks; FallbackURL
	// (the same when empty) where it goes when PublicURL fails.
	PublicURL   string
	FallbackURL string
	Every       time.Duration // between passes; 0 means 2 s
	SyncEvery   time.Duration // between full lists; 0 means 5 min
	Log         *slog.Logger
	// RegulatoryRetry is how long a pool whose country's rules stopped a
	// purchase waits before the next try, unless it is edited; 0 means an
	// hour.
	RegulatoryRetry time.Duration

	metrics *reconcileMetrics
	mu      sync.Mutex
	waiting map[string]regulatoryWait // pool id → why its purchases wait
}

// regulatoryWait is a pool whose purchase the provider refused for its
// country's rules: nothing is bought for it until the wait is over or the
// pool changes.
type regulatoryWait struct {
	since   time.Time
	updated time.Time // the pool's UpdatedAt then
}

// NewReconciler returns a reconciler with its metrics registered on reg
// (nil for none).
func NewReconciler(p Provider, publicURL string, reg prometheus.Registerer, log *slog.Logger) *Reconciler {
	if log == nil {
		log = slog.Default()
	}
	return &Reconciler{Provider: p, PublicURL: publicURL, Log: log, metrics: newReconcileMetrics(reg)}
}

// Tag is the FriendlyName of a number bought for a pool.
func Tag(poolID string) string { return tagPrefix + poolID }

// TaggedPool returns the pool a FriendlyName tags, if it is one of Tag's.
func TaggedPool(friendlyName string) (string, bool) {
	id, ok := strings.CutPrefix(friendlyName, tagPrefix)
	return id, ok && id != ""
}

const tagPrefix = "dni pool "

// missingSuffix ends the notice about numbers gone from the account, so
// the notice can be cleared once they are dealt with.
const missingSuffix = " to get a replacement."

// maxNamedMissing is how many of the numbers gone from the account the
// notice names; it counts the rest, to stay within allocator.MaxNoticeLen.
const maxNamedMissing = 5

// Config is what a number bought for the pool should be set to.
func (r *Reconciler) Config(poolID string) NumberConfig {
	base := strings.TrimRight(r.PublicURL, "/")
	fallback := strings.TrimRight(r.FallbackURL, "/")
	if fallback == "" {
		fallback = base
	}
	return NumberConfig{
		FriendlyName:   Tag(poolID),
		VoiceURL:       base + "/twilio/voice",
		FallbackURL:    fallback + "/twilio/fallback",
		StatusCallback: base + "/twilio/status",
	}
}

// Backoff bounds after a rate limit or a provider failure.
const (
	minBackoff = time.Second
	maxBackoff = time.Minute
)

// Run reconciles until ctx ends.
func (r *Reconciler) Run(ctx context.Context, c Cluster) {
	every, syncEvery := r.Every, r.SyncEvery
	if every == 0 {
		every = 2 * time.Second
	}
	if syncEvery == 0 {
		syncEvery = 5 * time.Minute
	}
	backoff := time.Duration(0)
	var synced time.Time
	for {
		wait := every
		err := c.CatchUp(ctx)
		if err == nil && time.Since(synced) >= syncEvery {
			if err = r.Sync(ctx, c); err == nil {
				synced = time.Now()
			}
		}
		if err == nil {
			var released bool
			released, err = r.pass(ctx, c)
			if released {
				synced = time.Time{} // a number gone from the account may have been dealt with
			}
		}
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			backoff = 0
		default:
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			wait = backoff
			r.Log.Warn("provisioning paused", "retry_in", backoff, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Sync lists the account's numbers, adopts the ones tagged for a pool but
// not recorded, and sets right the name and hooks of recorded ones.
func (r *Reconciler) Sync(ctx context.Context, c Cluster) error {
	owned, err := r.Provider.List(ctx)
	if err != nil {
		r.metrics.failed(err)
		return fmt.Errorf("list the account's numbers: %w", err)
	}
	s := c.State()
	held := make(map[string]bool, len(owned))
	for _, o := range owned {
		held[o.E164] = true
		n := s.Number(o.E164)
		if n != nil && n.State() != allocator.NumberReleased {
			if n.State() == allocator.NumberActive && !n.Owned && o.Config() != r.Config(n.Pool.ID) {
				if _, err := r.Provider.Update(ctx, o.SID, r.Config(n.Pool.ID)); err != nil {
					r.metrics.failed(err)
					return fmt.Errorf("set the hooks of %s: %w", o.E164, err)
				}
			}
			continue
		}
		pool, ok := TaggedPool(o.FriendlyName)
		if !ok || s.Pool(pool) == nil {
			continue // not dni's, or another installation's
		}
		// Bought but never recorded: record it. A pool that no longer
		// wants it records it as releasing, and the pass gives it back.
		if err := r.commit(ctx, c, &fsm.AddNumber{Pool: pool, E164: o.E164, ProviderID: o.SID, At: time.Now()}); err != nil {
			return err
		}
		r.metrics.adopted.Inc()
		r.Log.Info("adopted a number bought but not recorded", "pool", pool, "number", o.E164)
	}
	for _, p := range s.Pools() {
		var missing []string
		for _, n := range p.Numbers() {
			if n.State() == allocator.NumberActive && !n.Owned && n.ProviderID != "" && !held[n.E164] {
				missing = append(missing, n.E164)
			}
		}
		switch {
		case len(missing) > 0:
			named := strings.Join(missing[:min(len(missing), maxNamedMissing)], ", ")
			if len(missing) > maxNamedMissing {
				named += fmt.Sprintf(" and %d more", len(missing)-maxNamedMissing)
			}
			r.notice(ctx, c, p, fmt.Sprintf("%s %s no longer on the provider account; release %s in dni"+missingSuffix,
				named, plural(len(missing), "is", "are"), plural(len(missing), "it", "them")))
		case strings.HasSuffix(p.Notice(), missingSuffix):
			r.notice(ctx, c, p, "")
		}
	}
	return nil
}

// Pass buys what every pool lacks and releases what left service.
func (r *Reconciler) Pass(ctx context.Context, c Cluster) error {
	_, err := r.pass(ctx, c)
	return err
}

func (r *Reconciler) pass(ctx context.Context, c Cluster) (released bool, err error) {
	for _, p := range c.State().Pools() {
		if p.Counts().Releasing > 0 {
			released = true
			if err := r.release(ctx, c, p); err != nil {
				return released, err
			}
		}
		if p.Deleted() {
			continue
		}
		if need := p.Settings().Size - p.Counts().Active; need > 0 && !r.waitsForRules(p) {
			if err := r.fill(ctx, c, p, need); err != nil {
				return released, err
			}
		}
	}
	return released, nil
}

// release gives back, at the provider, the pool's numbers waiting to be
// released, and records each. A customer's own number, or one attached
// without a provider id, is only recorded: dni did not buy it.
func (r *Reconciler) release(ctx context.Context, c Cluster, p *allocator.Pool) error {
	for _, n := range p.Numbers() {
		if n.State() != allocator.NumberReleasing {
			continue
		}
		if !n.Owned && n.ProviderID != "" {
			err := r.Provider.Release(ctx, n.ProviderID)
			if err != nil && !errors.Is(err, ErrNotFound) {
				r.metrics.failed(err)
				return fmt.Errorf("release %s: %w", n.E164, err)
			}
			if err == nil {
				r.metrics.released.Inc() // not when it was gone already
			}
		}
		if err := r.commit(ctx, c, &fsm.ConfirmRelease{E164: n.E164, At: time.Now()}); err != nil {
			return err
		}
		r.Log.Info("released a number", "pool", p.ID, "number", n.E164)
	}
	return nil
}

// waitsForRules reports whether the pool's purchases wait for its
// country's rules to be met: an hour after the refusal, or until the pool
// is edited.
func (r *Reconciler) waitsForRules(p *allocator.Pool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.waiting[p.ID]
	retry := r.RegulatoryRetry
	if retry == 0 {
		retry = time.Hour
	}
	if ok && (time.Since(w.since) >= retry || !p.UpdatedAt().Equal(w.updated)) {
		delete(r.waiting, p.ID)
		ok = false
	}
	return ok
}

// countryNames are the words notices use for the countries dni sells
// numbers in most; others are named by their code.
var countryNames = map[string]string{"US": "the US", "CA": "Canada", "GB": "the United Kingdom", "AU": "Australia", "DE": "Germany"}

func countryName(c string) string {
	if n, ok := countryNames[c]; ok {
		return n
	}
	return c
}

// fill buys need numbers for the pool in its country, and says on the
// pool when it had to look further. In North America: in its area code if
// it has one, else near its business number, else anywhere in the
// country. Elsewhere: in its area code if it has one, else with the
// business number's, else anywhere in the country, else mobile numbers
// (some countries sell no local ones).
func (r *Reconciler) fill(ctx context.Context, c Cluster, p *allocator.Pool, need int) error {
	type search struct {
		q      Query
		notice string // what to tell the marketer if this search is the one that sold
	}
	st := p.Settings()
	country := cmp.Or(st.Country, allocator.DefaultCountry)
	limit := need + 5 // a few spare, for numbers sold between search and buy
	var searches []search
	business, businessErr := allocator.SwapTargetE164(st.SwapTarget, country)
	switch {
	case country == "US" || country == "CA":
		searches = append(searches, search{q: Query{Country: country, AreaCode: st.AreaCode, Limit: limit}})
		if st.AreaCode != "" {
			if businessErr == nil {
				searches = append(searches, search{Query{Country: country, NearNumber: business, Distance: 50, Limit: limit},
					fmt.Sprintf("No numbers left in area code %s; bought numbers near %s instead.", st.AreaCode, st.SwapTarget)})
			}
			searches = append(searches, search{Query{Country: country, Limit: limit},
				fmt.Sprintf("No numbers in or near area code %s; bought numbers elsewhere in %s.", st.AreaCode, countryName(country))})
		}
	default:
		// The area code as the country writes it loses its trunk prefix
		// in the number's digits: London's 020 is +44 20.
		trunk := allocator.TrunkPrefix(country)
		where := "anywhere"
		if st.AreaCode != "" {
			searches = append(searches, search{q: Query{Country: country, Limit: limit,
				Contains: allocator.CallingCode(country) + strings.TrimPrefix(st.AreaCode, trunk)}})
			where = "in area code " + st.AreaCode
		}
		if businessErr == nil {
			notice := ""
			if st.AreaCode != "" {
				notice = fmt.Sprintf("No numbers left in area code %s; bought numbers near %s instead.", st.AreaCode, st.SwapTarget)
			}
			searches = append(searches, search{Query{Country: country, Contains: allocator.AreaDigits(business), Limit: limit}, notice})
			where = "near " + st.SwapTarget
		}
		searches = append(searches, search{Query{Country: country, Limit: limit},
			fmt.Sprintf("No numbers left %s; bought numbers elsewhere in %s.", where, countryName(country))},
			search{Query{Country: country, Mobile: true, Limit: limit},
				fmt.Sprintf("No local numbers for sale in %s; bought mobile numbers.", countryName(country))})
	}
	for _, search := range searches {
		found, err := r.Provider.Search(ctx, search.q)
		if errors.Is(err, ErrNoNumbers) || errors.Is(err, ErrBadAreaCode) || errors.Is(err, ErrNotFound) {
			continue // ErrNotFound: the provider sells no such numbers in the country
		}
		if errors.Is(err, ErrAuth) {
			r.notice(ctx, c, p, "The provider refused dni's credentials: no numbers can be bought until they are fixed.")
		}
		if err != nil {
			r.metrics.failed(err)
			return fmt.Errorf("search numbers for pool %s: %w", p.ID, err)
		}
		bought, err := r.buy(ctx, c, p, found, need)
		if errors.Is(err, ErrRegulatory) {
			// Trying again at once would be refused again: the pool
			// waits, and says what the operator must do.
			r.mu.Lock()
			if r.waiting == nil {
				r.waiting = map[string]regulatoryWait{}
			}
			r.waiting[p.ID] = regulatoryWait{since: time.Now(), updated: p.UpdatedAt()}
			r.mu.Unlock()
			r.notice(ctx, c, p, fmt.Sprintf("The provider sells numbers in %s only to an account with an approved address or regulatory bundle for them. "+
				"Add one in the Twilio console (Phone Numbers → Regulatory Compliance); dni tries again within the hour, or when the pool is edited.",
				countryName(country)))
			r.Log.Warn("purchases wait for the country's rules", "pool", p.ID, "country", country, "err", err)
			return nil
		}
		// Numbers gone from the account matter more than where new ones
		// came from: that notice stays until Sync sees them dealt with.
		if bought > 0 && !strings.HasSuffix(p.Notice(), missingSuffix) {
			r.notice(ctx, c, p, search.notice)
		}
		if err != nil {
			return err
		}
		if need -= bought; need == 0 {
			return nil
		}
	}
	r.notice(ctx, c, p, "The provider has no numbers to sell; dni keeps trying.")
	return nil
}

// buy buys up to need of the numbers found and records each at once.
func (r *Reconciler) buy(ctx context.Context, c Cluster, p *allocator.Pool, found []Available, need int) (int, error) {
	bought := 0
	for _, a := range found {
		if bought == need {
			break
		}
		if n := c.State().Number(a.E164); n != nil && n.State() != allocator.NumberReleased {
			continue
		}
		o, err := r.Provider.Buy(ctx, a.E164, r.Config(p.ID))
		if errors.Is(err, ErrNumberTaken) {
			continue // sold between search and buy: the next one
		}
		if err != nil {
			r.metrics.failed(err)
			return bought, fmt.Errorf("buy %s for pool %s: %w", a.E164, p.ID, err)
		}
		r.metrics.bought.Inc()
		// Record it even if leadership is lost meanwhile: any node can
		// forward the write, and an unrecorded number waits for the next
		// list to be adopted.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = r.commit(rctx, c, &fsm.AddNumber{Pool: p.ID, E164: o.E164, ProviderID: o.SID, At: time.Now()})
		cancel()
		if err != nil {
			return bought, err
		}
		r.Log.Info("bought a number", "pool", p.ID, "number", o.E164)
		bought++
	}
	return bought, nil
}

// notice sets the pool's notice if it changed. A failure only costs the
// message, so it is logged, not returned.
func (r *Reconciler) notice(ctx context.Context, c Cluster, p *allocator.Pool, text string) {
	if p.Notice() == text {
		return
	}
	if err := r.commit(ctx, c, &fsm.SetNotice{Pool: p.ID, Notice: text}); err != nil {
		r.Log.Warn("could not set a pool's notice", "pool", p.ID, "err", err)
	}
}

func (r *Reconciler) commit(ctx context.Context, c Cluster, cmd fsm.Command) error {
	res, err := c.Commit(ctx, cmd)
	if err != nil {
		return fmt.Errorf("record %T: %w", cmd, err)
	}
	if res.Err != nil {
		return fmt.Errorf("record %T: %w", cmd, res.Err)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

type reconcileMetrics struct {
	bought, released, adopted prometheus.Counter
	errors                    *prometheus.CounterVec
}

func newReconcileMetrics(reg prometheus.Registerer) *reconcileMetrics {
	m := &reconcileMetrics{
		bought: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dni_numbers_bought_total", Help: "Numbers bought at the provider by this node while it led.",
		}),
		released: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dni_numbers_released_total", Help: "Numbers released at the provider by this node while it led.",
		}),
		adopted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dni_numbers_adopted_total", Help: "Numbers found bought but not recorded, and recorded.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dni_provider_errors_total", Help: "Failed provider requests, by kind: rate_limited, unavailable, auth, other.",
		}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.bought, m.released, m.adopted, m.errors)
	}
	return m
}

func (m *reconcileMetrics) failed(err error) {
	kind := "other"
	switch {
	case errors.Is(err, ErrRateLimited):
		kind = "rate_limited"
	case errors.Is(err, ErrUnavailable):
		kind = "unavailable"
	case errors.Is(err, ErrAuth):
		kind = "auth"
	}
	m.errors.WithLabelValues(kind).Inc()
}
