package allocator

import (
	"errors"
	"math"
	"testing"
	"time"
)

// callScene is a pool whose rule makes 60 s calls from new callers leads
// worth 120.00, a visit holding its first number, and a call to it from
// caller that lasted duration.
func callScene(t *testing.T, s *State, sid, caller string, duration time.Duration) *Call {
	t.Helper()
	if s.Pool("p1") == nil {
		addEdgePool(t, s, 1, 4, func(st *Settings) { st.LeadRule, st.LeadValue = true, 12000 })
		mustAssign(t, s, 1, "k1", sec(1))
	}
	if _, err := s.RecordCall(RecordCall{SID: sid, To: e164(1, 0), From: caller, At: sec(10)}); err != nil {
		t.Fatal(err)
	}
	c, err := s.UpdateCall(UpdateCall{SID: sid, Status: CallCompleted, Duration: duration, AnsweredBy: "+14155550100", At: sec(10 + duration.Seconds())})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTheRuleMakesALongCallFromANewCallerALead(t *testing.T) {
	s := New()
	c := callScene(t, s, "CA1", "+12125550001", 90*time.Second)
	if c.Outcome != OutcomeLead || c.Value != 12000 || c.Currency != "USD" || c.ByHand {
		t.Fatalf("a 90 s first call: %+v, want a lead worth 120.00 USD by the rule", c.Worth)
	}
	if c.Conversion.At.IsZero() || c.Conversion.Value != 12000 {
		t.Fatalf("conversion %+v, want one worth 120.00", c.Conversion)
	}
	short := callScene(t, s, "CA2", "+12125550002", 59*time.Second)
	if short.Outcome != OutcomeUnset || short.Value != 0 {
		t.Errorf("a 59 s call: %+v, want no outcome", short.Worth)
	}
	again := callScene(t, s, "CA3", "+12125550001", 300*time.Second)
	if again.Outcome != OutcomeUnset {
		t.Errorf("a returning caller: %+v, want no outcome", again.Worth)
	}
}

func TestTheRuleJudgesACallWhoseEndCameBeforeItsRecord(t *testing.T) {
	s := New()
	addEdgePool(t, s, 1, 4, func(st *Settings) { st.LeadRule, st.LeadValue = true, 500 })
	if _, err := s.UpdateCall(UpdateCall{SID: "CA9", Status: CallCompleted, Duration: 2 * time.Minute, AnsweredBy: "+14155550100", At: sec(200)}); err != nil {
		t.Fatal(err)
	}
	c, err := s.RecordCall(RecordCall{SID: "CA9", To: e164(1, 1), From: "+12125550009", At: sec(60)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Outcome != OutcomeLead || c.Value != 500 {
		t.Fatalf("%+v, want a lead worth 5.00", c.Worth)
	}
}

func TestACallNobodyAnsweredIsNoLeadHoweverLongItRang(t *testing.T) {
	s := New()
	addEdgePool(t, s, 1, 4, func(st *Settings) { st.LeadRule = true })
	if _, err := s.RecordCall(RecordCall{SID: "CA1", To: e164(1, 0), From: "+12125550001", At: sec(10)}); err != nil {
		t.Fatal(err)
	}
	c, err := s.UpdateCall(UpdateCall{SID: "CA1", Status: CallCompleted, Duration: 90 * time.Second, At: sec(100)})
	if err != nil || c.Outcome != OutcomeUnset {
		t.Fatalf("%+v, %v", c.Worth, err)
	}
}

func TestARuleThatIsOffJudgesNothing(t *testing.T) {
	s := New()
	addEdgePool(t, s, 1, 4, func(st *Settings) { st.LeadRule = false })
	c := callScene(t, s, "CA1", "+12125550001", time.Hour)
	if c.Outcome != OutcomeUnset {
		t.Fatalf("%+v, want no outcome", c.Worth)
	}
}

func TestAMarkWinsOverTheRuleAndRepeatsAsNothing(t *testing.T) {
	s := New()
	callScene(t, s, "CA1", "+12125550001", 30*time.Second)
	c, err := s.MarkCall(CallMark{SID: "CA1", Set: MarkOutcome | MarkValue | MarkNote, Outcome: OutcomeSale, Value: 45050, Note: "bought the blue one", At: sec(500)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Outcome != OutcomeSale || c.Value != 45050 || !c.ByHand || c.Conversion.Value != 45050 || !c.OutcomeAt.Equal(sec(500)) {
		t.Fatalf("%+v", c.Worth)
	}
	again, err := s.MarkCall(CallMark{SID: "CA1", Set: MarkOutcome | MarkValue | MarkNote, Outcome: OutcomeSale, Value: 45050, Note: "bought the blue one", At: sec(900)})
	if err != nil || again != c {
		t.Fatalf("the same mark again changed the call: %+v, %v", again.Worth, err)
	}
	// A new value keeps the first conversion: the platforms hear of it as an adjustment.
	c, err = s.MarkCall(CallMark{SID: "CA1", Set: MarkValue, Value: 50000, At: sec(1000)})
	if err != nil || c.Value != 50000 || c.Conversion.Value != 45050 {
		t.Fatalf("%+v, %v", c.Worth, err)
	}
	c, err = s.MarkCall(CallMark{SID: "CA1", Set: MarkOutcome, Outcome: OutcomeNone, At: sec(1100)})
	if err != nil || c.Value != 0 || c.Outcome != OutcomeNone || c.Note != "bought the blue one" {
		t.Fatalf("marked none: %+v, %v", c.Worth, err)
	}
}

func TestBadMarksAreRefusedNamingTheField(t *testing.T) {
	s := New()
	callScene(t, s, "CA1", "+12125550001", 30*time.Second)
	for _, tc := range []struct {
		mark  CallMark
		field string
	}{
		{CallMark{SID: "CA1", Set: MarkOutcome, Outcome: "maybe"}, "outcome"},
		{CallMark{SID: "CA1", Set: MarkValue, Value: 100}, "value"}, // no outcome yet
		{CallMark{SID: "CA1", Set: MarkOutcome | MarkValue, Outcome: OutcomeLead, Value: -1}, "value"},
		{CallMark{SID: "CA1", Set: MarkOutcome | MarkCurrency, Outcome: OutcomeLead, Currency: "EUR"}, "currency"},
		{CallMark{SID: "CA1", Set: MarkNote, Note: string(make([]byte, 3000))}, "note"},
		{CallMark{SID: "CA1"}, "outcome"},
	} {
		tc.mark.At = sec(100)
		_, err := s.MarkCall(tc.mark)
		var v *ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%+v: %v, want an error naming %s", tc.mark, err, tc.field)
		}
	}
	if _, err := s.MarkCall(CallMark{SID: "CA404", Set: MarkNote, At: sec(100)}); !errors.Is(err, ErrUnknownCall) {
		t.Errorf("an unknown call: %v", err)
	}
	if c := s.Call("CA1"); c.Outcome != OutcomeUnset || c.Note != "" {
		t.Errorf("refused marks changed the call: %+v", c.Worth)
	}
}

func TestMoneyFromRefusesWhatIsNotAnAmount(t *testing.T) {
	for _, v := range []float64{-0.01, math.NaN(), math.Inf(1), 2e9} {
		if _, err := MoneyFrom("value", v); err == nil {
			t.Errorf("%v was taken", v)
		}
	}
	if m, err := MoneyFrom("value", 120.505); err != nil || m != 12051 || m.String() != "120.51" {
		t.Errorf("120.505: %v %v", m, err)
	}
}

func TestSpendIsSetReplacedAndDeleted(t *testing.T) {
	s := New()
	day, _ := ParseDay("2026-12-01")
	k := SpendKey{Day: day, Source: "google", Medium: "cpc", Campaign: "Spring"}
	if _, err := s.SetSpend(SetSpend{Rows: []Spend{{k, 10000}, {SpendKey{Day: day + 1, Source: "google", Medium: "cpc", Campaign: "Spring"}, 500}}, At: sec(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSpend(SetSpend{Rows: []Spend{{k, 12345}}, At: sec(2)}); err != nil {
		t.Fatal(err)
	}
	got := s.Spends(day, day+1)
	if len(got) != 2 || got[0].Cost != 12345 || got[1].Cost != 500 {
		t.Fatalf("%+v", got)
	}
	bad := SpendKey{Day: day, Campaign: " "}
	if _, err := s.SetSpend(SetSpend{Rows: []Spend{{k, 1}, {bad, 1}}, At: sec(3)}); err == nil {
		t.Fatal("a row without a campaign was taken")
	}
	if got := s.Spends(day, day); got[0].Cost != 12345 {
		t.Fatalf("a refused write changed a row: %+v", got)
	}
	if n, err := s.DeleteSpend(DeleteSpend{Keys: []SpendKey{k, k}, At: sec(4)}); err != nil || n != 1 {
		t.Fatalf("delete: %d %v", n, err)
	}
	if got := s.Spends(0, AllDays); len(got) != 1 {
		t.Fatalf("%+v", got)
	}
}

func TestTheCurrencyChangesOnlyWhileNothingHoldsAnAmount(t *testing.T) {
	s := New()
	eur := DefaultMarketing
	eur.Currency = "EUR"
	if _, err := s.SetMarketing(SetMarketing{Marketing: eur, At: sec(1)}); err != nil {
		t.Fatal(err)
	}
	callScene(t, s, "CA1", "+12125550001", 90*time.Second)
	if c := s.Call("CA1"); c.Currency != "EUR" {
		t.Fatalf("a lead's currency %q, want the cluster's EUR", c.Currency)
	}
	if _, err := s.SetMarketing(SetMarketing{Marketing: DefaultMarketing, At: sec(200)}); err == nil {
		t.Fatal("the currency changed under a valued call")
	}
	for _, bad := range []string{"usd", "XYZ", "EURO", ""} {
		m := eur
		m.Currency = bad
		if _, err := s.SetMarketing(SetMarketing{Marketing: m, At: sec(300)}); err == nil {
			t.Errorf("currency %q was taken", bad)
		}
	}
}

func TestAnImageKeepsWorthSpendAndMarketing(t *testing.T) {
	s := New()
	callScene(t, s, "CA1", "+12125550001", 90*time.Second)
	if _, err := s.MarkCall(CallMark{SID: "CA1", Set: MarkNote, Note: "call back Friday", At: sec(300)}); err != nil {
		t.Fatal(err)
	}
	day, _ := ParseDay("2026-11-27")
	if _, err := s.SetSpend(SetSpend{Rows: []Spend{{SpendKey{Day: day, Source: "bing", Medium: "cpc", Campaign: "B"}, 7}, {SpendKey{Day: day, Source: "google", Medium: "cpc", Campaign: "A"}, 9}}, At: sec(1)}); err != nil {
		t.Fatal(err)
	}
	m := DefaultMarketing
	m.GoogleConversion = "Calls from ads"
	if _, err := s.SetMarketing(SetMarketing{Marketing: m, At: sec(2)}); err != nil {
		t.Fatal(err)
	}
	img := s.Export()
	back, err := Import(img)
	if err != nil {
		t.Fatal(err)
	}
	if d := imageDiff(img, back.Export()); d != "no difference found" {
		t.Fatal(d)
	}
	if c := back.Call("CA1"); c.Note != "call back Friday" || c.Outcome != OutcomeLead {
		t.Fatalf("%+v", c.Worth)
	}
	if back.Marketing().GoogleConversion != "Calls from ads" || len(back.Spends(0, AllDays)) != 2 {
		t.Fatal("marketing or spend lost")
	}
}

func TestANoteLeavesTheCallToTheRule(t *testing.T) {
	s := New()
	addEdgePool(t, s, 1, 4, func(st *Settings) { st.LeadRule, st.LeadValue = true, 100 })
	if _, err := s.RecordCall(RecordCall{SID: "CA1", To: e164(1, 0), From: "+12125550001", At: sec(10)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkCall(CallMark{SID: "CA1", Set: MarkNote, Note: "asked for a quote", At: sec(20)}); err != nil {
		t.Fatal(err)
	}
	c, err := s.UpdateCall(UpdateCall{SID: "CA1", Status: CallCompleted, Duration: 2 * time.Minute, AnsweredBy: "+14155550100", At: sec(130)})
	if err != nil || c.Outcome != OutcomeLead || c.Note != "asked for a quote" {
		t.Fatalf("%+v, %v", c.Worth, err)
	}
}
