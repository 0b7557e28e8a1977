package allocator

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Spend is what was spent on one campaign on one day: the cost of the
// clicks that brought the visitors. Campaigns are named as calls'
// attributions name them (utm_source, utm_medium, utm_campaign), and
// match them in any case.
type Spend struct {
	SpendKey
	Cost Money
}

// SpendKey names a day's spend on a campaign.
type SpendKey struct {
	Day                      Day
	Source, Medium, Campaign string
}

// Day is a calendar day, as days since 1970-01-01.
type Day int32

// DayOf is the day a time falls on in UTC.
func DayOf(t time.Time) Day { return Day(t.Unix() / 86400) }

// ParseDay reads a day written 2006-01-02.
func ParseDay(s string) (Day, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return 0, false
	}
	return DayOf(t), true
}

// DayField reads a day written 2006-01-02, or says what is wrong with it
// naming field.
func DayField(field, s string) (Day, error) {
	d, ok := ParseDay(strings.TrimSpace(s))
	if !ok {
		return 0, invalid(field, "%q is not a day such as 2026-12-01", s)
	}
	return d, nil
}

// Time is the day's start, in UTC.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// Limits on spend.
const (
	MaxSpendRows    = 200_000      // in the cluster
	MaxSpendPerCall = 10_000       // in one write
	minSpendDay     = Day(10957)   // 2000-01-01
	maxSpendDay     = Day(2932896) // 9999-12-31
)

// SetSpend records days of spend, each replacing what was recorded for
// its day and campaign. A cost of zero is kept (a campaign paused that
// day); DeleteSpend forgets one.
type SetSpend struct {
	Rows []Spend
	At   time.Time
}

// DeleteSpend forgets days of spend; a key with nothing recorded is left
// alone.
type DeleteSpend struct {
	Keys []SpendKey
	At   time.Time
}

// spendBook is every day of spend, by key. Readers take the read lock;
// only Apply writes.
type spendBook struct {
	mu   sync.RWMutex
	rows map[SpendKey]Money
}

func (b *spendBook) len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.rows)
}

// CheckSpendKey checks a key's fields, naming the one at fault.
func CheckSpendKey(k SpendKey) error {
	if k.Day < minSpendDay || k.Day > maxSpendDay {
		return invalid("day", "must be a day from 2000-01-01 on")
	}
	if strings.TrimSpace(k.Campaign) == "" {
		return invalid("campaign", "must name the campaign, as its visits' utm_campaign does")
	}
	for _, f := range []struct{ name, v string }{{"source", k.Source}, {"medium", k.Medium}, {"campaign", k.Campaign}} {
		if len(f.v) > MaxUTMLen || !utf8.ValidString(f.v) {
			return invalid(f.name, "must be at most %d bytes of UTF-8", MaxUTMLen)
		}
	}
	return nil
}

// SetSpend records the rows, all or none.
func (s *State) SetSpend(c SetSpend) (int, error) {
	if _, err := stamp(c.At); err != nil {
		return 0, err
	}
	if len(c.Rows) == 0 || len(c.Rows) > MaxSpendPerCall {
		return 0, invalid("rows", "give 1 to %d days of spend at once, got %d", MaxSpendPerCall, len(c.Rows))
	}
	for i, r := range c.Rows {
		if err := CheckSpendKey(r.SpendKey); err != nil {
			return 0, RowError(i, err)
		}
		if r.Cost < 0 || r.Cost > MaxMoney {
			return 0, RowError(i, invalid("cost", "must be between 0 and %s", MaxMoney))
		}
	}
	b := &s.spend
	b.mu.Lock()
	defer b.mu.Unlock()
	added := 0
	for _, r := range c.Rows {
		if _, ok := b.rows[r.SpendKey]; !ok {
			added++
		}
	}
	if len(b.rows)+added > MaxSpendRows {
		return 0, invalid("rows", "the cluster keeps at most %d days of spend; delete old ones first", MaxSpendRows)
	}
	if b.rows == nil {
		b.rows = make(map[SpendKey]Money)
	}
	for _, r := range c.Rows {
		b.rows[r.SpendKey] = r.Cost
	}
	return len(c.Rows), nil
}

// RowError says which row (counted from 1) of a list is at fault.
func RowError(i int, err error) error {
	if v, ok := err.(*ValidationError); ok {
		return &ValidationError{Field: v.Field, Reason: v.Reason + " (row " + strconv.Itoa(i+1) + ")"}
	}
	return err
}

// DeleteSpend forgets the keys' spend and says how many were recorded.
func (s *State) DeleteSpend(c DeleteSpend) (int, error) {
	if _, err := stamp(c.At); err != nil {
		return 0, err
	}
	if len(c.Keys) == 0 || len(c.Keys) > MaxSpendPerCall {
		return 0, invalid("rows", "give 1 to %d days of spend at once, got %d", MaxSpendPerCall, len(c.Keys))
	}
	b := &s.spend
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, k := range c.Keys {
		if _, ok := b.rows[k]; ok {
			delete(b.rows, k)
			n++
		}
	}
	return n, nil
}

// Spends returns the recorded spend from day from to day to, both
// included, oldest first, then by source, medium and campaign. Safe for
// any goroutine.
func (s *State) Spends(from, to Day) []Spend {
	b := &s.spend
	b.mu.RLock()
	out := make([]Spend, 0, min(len(b.rows), 1024))
	for k, v := range b.rows {
		if k.Day >= from && k.Day <= to {
			out = append(out, Spend{k, v})
		}
	}
	b.mu.RUnlock()
	slices.SortFunc(out, func(a, b Spend) int { return compareSpendKeys(a.SpendKey, b.SpendKey) })
	return out
}

func compareSpendKeys(a, b SpendKey) int {
	return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Source, b.Source),
		cmp.Compare(a.Medium, b.Medium), cmp.Compare(a.Campaign, b.Campaign))
}

// AllDays is the widest range Spends takes.
const AllDays = maxSpendDay
