package standin_test

import (
	"context"
	"testing"
)

// BenchmarkSimulatedCall is one forwarded call with a whisper, end to end:
// four signed webhooks to a local dni and the trace.
func BenchmarkSimulatedCall(b *testing.B) {
	s, _ := whisperScene(b)
	b.ReportAllocs()
	for b.Loop() {
		placeAndWait(b, s, tracked, caller)
	}
}

// BenchmarkSimulatedCallsInParallel is the bench harness's load: many
// calls at once.
func BenchmarkSimulatedCallsInParallel(b *testing.B) {
	s, _ := whisperScene(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			sid, err := s.PlaceCall(ctx, tracked, caller)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := s.WaitCall(ctx, sid); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
