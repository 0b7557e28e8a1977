package allocator

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CallOutcome is what a call turned out to be worth to the business: the
// marketer's verdict, or the pool's conversion rule's.
type CallOutcome string

const (
	// OutcomeUnset: nobody judged the call and the rule did not make it a
	// lead (too short, unanswered, a returning caller, or the rule is off).
	OutcomeUnset CallOutcome = ""
	// OutcomeNone: judged, and not a lead (a wrong number, a supplier).
	OutcomeNone CallOutcome = "none"
	// OutcomeLead: a prospective customer.
	OutcomeLead CallOutcome = "lead"
	// OutcomeSale: the call ended in a sale.
	OutcomeSale CallOutcome = "sale"
)

// Valid reports whether o is an outcome a person may set.
func (o CallOutcome) Valid() bool { return o == OutcomeNone || o == OutcomeLead || o == OutcomeSale }

// Converted reports whether a call with this outcome is a conversion: what
// the campaign reports count and the ad platforms are told.
func (o CallOutcome) Converted() bool { return o == OutcomeLead || o == OutcomeSale }

// Money is an amount in hundredths of the currency's unit (cents, pence),
// so sums are exact.
type Money int64

// MaxMoney bounds every amount: a billion in any currency, far from
// overflowing a sum of a million of them.
const MaxMoney Money = 100_000_000_000

// MoneyFrom reads an amount given as a decimal number (120.5), rounded to
// hundredths; a negative, non-finite or too large one is an error naming
// field.
func MoneyFrom(field string, v float64) (Money, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, invalid(field, "must be a number")
	}
	if v < 0 {
		return 0, invalid(field, "must not be negative, got %v", v)
	}
	m := math.Round(v * 100)
	if m > float64(MaxMoney) {
		return 0, invalid(field, "must be at most %s, got %v", MaxMoney, v)
	}
	return Money(m), nil
}

// Float is the amount as a decimal number, for JSON.
func (m Money) Float() float64 { return float64(m) / 100 }

// String writes the amount with two decimals: "1250.50".
func (m Money) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%02d", sign, m/100, m%100)
}

// Limits on what a person writes on a call.
const MaxCallNoteLen = 500

// CallMark is a person's verdict on a call. Fields not Set stay as they
// are; a mark wins over the pool's rule from then on.
type CallMark struct {
	SID      string
	Set      MarkFields
	Outcome  CallOutcome
	Value    Money
	Currency string
	Note     string
	At       time.Time
}

// MarkFields says which fields of a CallMark it sets.
type MarkFields uint8

// The fields of a CallMark.
const (
	MarkOutcome MarkFields = 1 << iota
	MarkValue
	MarkCurrency
	MarkNote
	MarkAll = MarkNote<<1 - 1
)

// Worth is what a call was worth: set by the pool's conversion rule when
// the call ends, or by a person (ByHand), whose mark wins.
type Worth struct {
	Outcome   CallOutcome
	Value     Money
	Currency  string // the cluster's, when the call has a value
	Note      string
	ByHand    bool
	OutcomeAt time.Time // when the outcome, value or note last changed; zero if never
	// Conversion is the call's first conversion, as the ad platforms are
	// told it.
	Conversion Conversion
}

// Conversion is when a call first became a conversion and what it was
// worth then: what the ad platforms are told, once. A later change of the
// outcome or the value is an adjustment of it.
type Conversion struct {
	At    time.Time // zero until the call converts
	Value Money
}

// MarkCall records a person's verdict on a call. Marking it again with the
// same fields changes nothing, not even its time.
func (s *State) MarkCall(m CallMark) (*Call, error) {
	at, err := stamp(m.At)
	if err != nil {
		return nil, err
	}
	if !validCallSID(m.SID) {
		return nil, ErrBadCall
	}
	if m.Set&^MarkAll != 0 || m.Set == 0 {
		return nil, invalid("outcome", "give at least one of outcome, value, currency and note")
	}
	e := s.calls.get(m.SID)
	if e == nil {
		return nil, ErrUnknownCall
	}
	old := e.cur.Load()
	c := *old
	if m.Set&MarkOutcome != 0 {
		if !m.Outcome.Valid() {
			return nil, invalid("outcome", "must be %q, %q or %q, got %q", OutcomeLead, OutcomeSale, OutcomeNone, m.Outcome)
		}
		c.Outcome = m.Outcome
	}
	if m.Set&MarkValue != 0 {
		if m.Value < 0 || m.Value > MaxMoney {
			return nil, invalid("value", "must be between 0 and %s", MaxMoney)
		}
		c.Value = m.Value
	}
	currency := s.Marketing().Currency
	if m.Set&MarkCurrency != 0 && m.Currency != currency {
		return nil, invalid("currency", "values are kept in %s, the cluster's currency; got %q", currency, m.Currency)
	}
	if m.Set&MarkNote != 0 {
		if len(m.Note) > MaxCallNoteLen*4 || utf8.RuneCountInString(m.Note) > MaxCallNoteLen {
			return nil, invalid("note", "must be at most %d characters", MaxCallNoteLen)
		}
		c.Note = strings.ToValidUTF8(m.Note, "\uFFFD")
	}
	if !c.Outcome.Converted() {
		if m.Set&MarkValue != 0 && m.Value != 0 {
			return nil, invalid("value", "only a lead or a sale has a value; give the outcome with it")
		}
		c.Value = 0
	}
	if m.Set&(MarkOutcome|MarkValue) != 0 {
		c.ByHand = true // a note alone leaves the call to the rule
	}
	if c.Value != 0 || c.Outcome.Converted() {
		c.Currency = currency
	}
	if c.Worth == old.Worth {
		return old, nil
	}
	c.OutcomeAt = fromMillis(at)
	c.converted(at)
	s.announce(old, &c, at)
	return s.putCall(e, &c), nil
}

// converted notes the call's first conversion.
func (c *Call) converted(at int64) {
	if c.Outcome.Converted() && c.Conversion.At.IsZero() {
		c.Conversion = Conversion{At: fromMillis(at), Value: c.Value}
	}
}

// judge applies the pool's conversion rule to a call nobody marked: a call
// a forwarding number answered, of at least the rule's length from a first-time caller is
// a lead worth the rule's value. The rule judges a call once.
func (s *State) judge(c *Call, at int64) {
	// Answered means a forwarding number picked up: a caller who let it
	// ring for a minute and hung up is no lead.
	if c.ByHand || c.Outcome != OutcomeUnset || !answered(c) || c.AnsweredBy == "" || !c.FirstTime || c.PoolID == "" {
		return
	}
	p := s.pools.get(c.PoolID)
	if p == nil {
		return
	}
	st := p.Settings()
	if !st.LeadRule || c.Duration < st.LeadMinDuration {
		return
	}
	c.Outcome, c.Value, c.Currency = OutcomeLead, st.LeadValue, s.Marketing().Currency
	c.OutcomeAt = fromMillis(at)
	c.converted(at)
}

// answered reports whether a call reached someone: it completed after
// being answered.
func answered(c *Call) bool {
	return c.Status == CallCompleted && (c.AnsweredBy != "" || c.Duration > 0)
}

// Answered reports whether the call reached someone.
func (c *Call) Answered() bool { return answered(c) }

// ParseMoney reads an amount as people type it and spreadsheets export
// it: digits with an optional currency sign, thousands separated by commas
// ("1,250.50"), or cents after a comma ("1250,50"). A negative, empty or
// unreadable one is an error naming field.
func ParseMoney(field, s string) (Money, error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), "\u00a0", "")
	t = strings.TrimLeft(strings.TrimRight(t, " $€£¥"), "$€£¥ ")
	t = strings.ReplaceAll(t, " ", "")
	if i := strings.LastIndexByte(t, ','); i >= 0 && !strings.Contains(t, ".") && len(t)-i-1 == 2 {
		t = t[:i] + "." + t[i+1:]
	}
	t = strings.ReplaceAll(t, ",", "")
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || t == "" || strings.ContainsAny(t, "eExXpPnNiI_") {
		return 0, invalid(field, "%q is not an amount; write it as 1250 or 1250.50", s)
	}
	return MoneyFrom(field, v)
}
