package standin

import "sync/atomic"

// Stats counts the REST requests the stand-in was sent, by kind. A request
// counts once its credentials are accepted, whatever it is answered, so a
// rate-limited buy counts as a buy and as rate-limited.
type Stats struct {
	Searches    int64 `json:"searches"`
	Buys        int64 `json:"buys"`
	Lists       int64 `json:"lists"` // pages of owned numbers
	Fetches     int64 `json:"fetches"`
	Updates     int64 `json:"updates"`
	Releases    int64 `json:"releases"`
	Recordings  int64 `json:"recordings"` // fetches and deletes of recordings
	RateLimited int64 `json:"rate_limited"`
	Failed      int64 `json:"failed"`       // answered 500 by FailNext
	Refused     int64 `json:"refused"`      // wrong credentials or account
	Calls       int64 `json:"calls_placed"` // simulated calls started
}

// kind is what a REST request asks for.
type kind int

const (
	kindOther kind = iota
	kindSearch
	kindBuy
	kindList
	kindFetch
	kindUpdate
	kindRelease
	kindRecording
)

type counters struct {
	byKind      [kindRecording + 1]atomic.Int64
	rateLimited atomic.Int64
	failed      atomic.Int64
	refused     atomic.Int64
	calls       atomic.Int64
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Searches:    c.byKind[kindSearch].Load(),
		Buys:        c.byKind[kindBuy].Load(),
		Lists:       c.byKind[kindList].Load(),
		Fetches:     c.byKind[kindFetch].Load(),
		Updates:     c.byKind[kindUpdate].Load(),
		Releases:    c.byKind[kindRelease].Load(),
		Recordings:  c.byKind[kindRecording].Load(),
		RateLimited: c.rateLimited.Load(),
		Failed:      c.failed.Load(),
		Refused:     c.refused.Load(),
		Calls:       c.calls.Load(),
	}
}
