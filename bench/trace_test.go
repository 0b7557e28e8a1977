package bench

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
)

// TestAdviceOnATraceGrowsABusyPoolShrinksAQuietOneAndRestoresAccuracy plays
// 36 hours of the default visitors on a pool of 25 numbers at 95 % and at
// 20 % utilisation. At 95 % visitors share numbers: the advice is a larger
// pool, its reason names the busiest hour and the sharing, and the same
// visitors on a pool of the advised size have at least 98 % of their calls
// matched to the caller. At 20 % the advice is a smaller pool.
func TestAdviceOnATraceGrowsABusyPoolShrinksAQuietOneAndRestoresAccuracy(t *testing.T) {
	for _, tc := range []struct {
		name        string
		utilisation float64
		grow        bool
	}{
		{"at 95 %", 0.95, true},
		{"at 20 %", 0.20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := AdviseTrace(TraceOptions{Utilisation: tc.utilisation})
			if err != nil {
				t.Fatal(err)
			}
			b, a := r.Before, r.After
			t.Logf("size %d, held %.1f%%, accuracy %.2f%% (%d calls); advised %d: held %.1f%%, accuracy %.2f%% (%d calls)\n%s",
				b.PoolSize, 100*b.Held, 100*b.Accuracy.Share, b.Accuracy.Calls,
				a.PoolSize, 100*a.Held, 100*a.Accuracy.Share, a.Accuracy.Calls, b.Advice.Reason)
			if b.Usage.Hours < allocator.AdviceMinHours {
				t.Fatalf("the advisor saw %d hours, fewer than the %d it needs", b.Usage.Hours, allocator.AdviceMinHours)
			}
			if got := b.Advice.Size > b.PoolSize; got != tc.grow || b.Advice.Size == b.PoolSize {
				t.Fatalf("advised %d numbers for a pool of %d %s", b.Advice.Size, b.PoolSize, tc.name)
			}
			if a.PoolSize != b.Advice.Size || a.Rate != b.Rate {
				t.Fatalf("replayed %d numbers at %v/s, want the advised %d at %v/s", a.PoolSize, a.Rate, b.Advice.Size, b.Rate)
			}
			if a.Accuracy.Calls != b.Accuracy.Calls+b.Accuracy.Untracked-a.Accuracy.Untracked {
				t.Fatalf("the replay placed %d calls (%d untracked), the trace %d (%d untracked): not the same callers",
					a.Accuracy.Calls, a.Accuracy.Untracked, b.Accuracy.Calls, b.Accuracy.Untracked)
			}
			if !tc.grow {
				return
			}
			busiest := b.Usage.PeakHour.Format("2 Jan 15:04 MST")
			for _, want := range []string{"busiest hour", busiest, "had to share a number"} {
				if !strings.Contains(b.Advice.Reason, want) {
					t.Errorf("the reason does not say %q: %s", want, b.Advice.Reason)
				}
			}
			if b.Usage.Recycled == 0 {
				t.Errorf("no visitor shared a number at %.0f%%", 100*tc.utilisation)
			}
			if a.Accuracy.Share < 0.98 {
				t.Errorf("following the advice, %.2f%% of calls were matched to their caller, want at least 98%%", 100*a.Accuracy.Share)
			}
			if a.Accuracy.Share <= b.Accuracy.Share {
				t.Errorf("accuracy went from %.2f%% to %.2f%% at the advised size", 100*b.Accuracy.Share, 100*a.Accuracy.Share)
			}
		})
	}
}

// TestTraceIsTheSameForTheSameSeed: a trace is a function of its options.
func TestTraceIsTheSameForTheSameSeed(t *testing.T) {
	o := TraceOptions{Utilisation: 0.8, Hours: 3, Seed: 42}
	first, err := Trace(o)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Trace(o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("two traces of seed 42 differ:\n%+v\n%+v", first, again)
	}
	o.Seed = 43
	other, err := Trace(o)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(first.Usage, other.Usage) {
		t.Fatal("seeds 42 and 43 gave the same usage")
	}
}

// TestTraceOfFewerHoursThanTheAdvisorNeedsKeepsTheSize: the advisor
// judges by hours of history, which is why the trace runs in simulated time.
func TestTraceOfFewerHoursThanTheAdvisorNeedsKeepsTheSize(t *testing.T) {
	r, err := Trace(TraceOptions{Utilisation: 0.95, Hours: allocator.AdviceMinHours - 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Advice.Size != r.PoolSize || !strings.Contains(r.Advice.Reason, "Fewer than") {
		t.Fatalf("after %d hours the advice is %d: %s", r.Hours, r.Advice.Size, r.Advice.Reason)
	}
}

func TestTraceRefusesOptionsItCannotRun(t *testing.T) {
	for _, o := range []TraceOptions{
		{},                                 // no rate
		{Utilisation: 1},                   // beyond the pool
		{Utilisation: 0.5, PoolSize: 51},   // beyond MaxPoolSize
		{Utilisation: 0.5, Hours: 31 * 24}, // beyond the usage kept
		{Utilisation: 0.5, Model: Model{Heartbeat: 5 * time.Minute}}, // past the idle timeout
	} {
		if _, err := Trace(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// BenchmarkTrace times a day of the default pool at 95 %: the cost of one
// trace is what --trace's answer waits on.
func BenchmarkTrace(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Trace(TraceOptions{Utilisation: 0.95, Hours: 24}); err != nil {
			b.Fatal(err)
		}
	}
}
