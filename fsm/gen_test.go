package fsm

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dni-dev/dni/allocator"
)

// commandGen draws random but plausible command sequences: a few pools,
// numbers bought for them, visits arriving, heartbeats, expiry, calls, pool
// edits and deletes, with time moving forward. Some commands are invalid on
// purpose (unknown pools, bad sizes), as a real log may hold them too.
type commandGen struct {
	r      *rand.Rand
	now    time.Time
	pools  []string // ids; keys are "k"+id
	nums   []string
	visits []allocator.VisitID
	poolOf map[allocator.VisitID]string
	sids   []string
	n      int
}

func newCommandGen(seed uint64) *commandGen {
	return &commandGen{
		r:      rand.New(rand.NewPCG(seed, seed^0x5eed)),
		now:    time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC),
		poolOf: make(map[allocator.VisitID]string),
	}
}

func (g *commandGen) pick(xs []string) string {
	if len(xs) == 0 || g.r.IntN(50) == 0 {
		return "missing"
	}
	return xs[g.r.IntN(len(xs))]
}

func (g *commandGen) visit() allocator.VisitID {
	if len(g.visits) == 0 || g.r.IntN(50) == 0 {
		var id allocator.VisitID
		id[0], id[1] = byte(g.r.Uint32()), byte(g.r.Uint32())
		return id
	}
	// Mostly recent visits: they are the live ones.
	n := len(g.visits)
	return g.visits[n-1-g.r.IntN(min(n, 60))]
}

func (g *commandGen) settings() allocator.Settings {
	s := allocator.Settings{
		Name:        fmt.Sprintf("Pool %d", g.n),
		Size:        4 + g.r.IntN(5),
		SwapTarget:  "(415) 555-0100",
		ForwardTo:   []string{"+14155550100"},
		IdleTimeout: time.Duration(90+g.r.IntN(120)) * time.Second,
		Whisper:     g.r.IntN(2) == 0,
	}
	if g.r.IntN(4) == 0 {
		s.Tracking = allocator.TrackGCLID
	}
	if g.r.IntN(4) == 0 {
		s.Overflow = allocator.OverflowNone
	}
	if g.r.IntN(4) == 0 {
		s.Allocation = allocator.AllocateRandom
	}
	s = s.WithDefaults()
	if g.r.IntN(2) == 0 {
		s.DisplaceAfter = time.Duration(g.r.IntN(200)) * time.Second
	}
	if g.r.IntN(2) == 0 {
		s.VisitsPerMinute, s.VisitBurst = 1+g.r.IntN(30), g.r.IntN(5)
	}
	if g.r.IntN(3) == 0 {
		s.AllowedOrigins = []string{"https://shop.example", "http://localhost:8080"}[:1+g.r.IntN(2)]
	}
	if g.r.IntN(4) == 0 {
		s.Country, s.SwapTarget, s.ForwardTo = "GB", "020 7946 0018", []string{"+442079460999"}
	}
	s.LeadRule = g.r.IntN(4) > 0
	s.LeadMinDuration = time.Duration(30+g.r.IntN(90)) * time.Second
	s.LeadValue = allocator.Money(g.r.IntN(3) * 2500)
	if g.r.IntN(3) == 0 {
		s.Voicemail = g.voicemail()
	}
	if g.r.IntN(4) == 0 {
		s.Hours = g.hours()
	}
	if g.r.IntN(4) == 0 {
		s.Recording = allocator.CallRecording{On: true, Notice: []string{"", "Calls are recorded."}[g.r.IntN(2)], NoNotice: g.r.IntN(5) == 0}
	}
	if g.r.IntN(4) == 0 {
		s.Autoscale = allocator.Autoscale{MinSize: 4, MaxSize: 4 + g.r.IntN(20)}
	}
	return s
}

func (g *commandGen) voicemail() allocator.Voicemail {
	return allocator.Voicemail{
		UseDefault: g.r.IntN(5) == 0, On: g.r.IntN(4) > 0, Greeting: []string{"", "We are closed. Leave a message."}[g.r.IntN(2)],
		Voice: []string{"", "alice"}[g.r.IntN(2)], MaxLength: time.Duration(g.r.IntN(200)) * time.Second,
		Transcribe: g.r.IntN(2) == 0,
	}
}

// hours are weekdays 9 to 5 in a time zone, sometimes with a holiday, and
// now and then a day that makes them invalid.
func (g *commandGen) hours() allocator.Hours {
	h := allocator.Hours{On: true, TimeZone: []string{"America/New_York", "Europe/London", "Mars/Olympus"}[g.r.IntN(3)]}
	for d := time.Monday; d <= time.Friday; d++ {
		h.Week[d] = []allocator.Span{{From: 9 * 60, To: 17 * 60}}
	}
	if g.r.IntN(2) == 0 {
		h.Holidays = []string{"2026-12-25"}
	}
	if g.r.IntN(5) == 0 {
		h.Week[time.Saturday] = []allocator.Span{{From: 12 * 60, To: 10 * 60}}
	}
	if g.r.IntN(3) == 0 {
		h.AfterHoursForwardTo = "+14155550199"
	}
	return h
}

func (g *commandGen) next() Command {
	g.n++
	switch step := g.r.IntN(100); {
	case step < 2:
		g.now = g.now.Add(time.Duration(g.r.IntN(600)) * time.Second)
	default:
		g.now = g.now.Add(time.Duration(g.r.IntN(1500)) * time.Millisecond)
	}
	at := g.now
	switch op := g.r.IntN(100); {
	case op < 2 || len(g.pools) < 2:
		id := fmt.Sprintf("p%d", g.n)
		g.pools = append(g.pools, id)
		return &CreatePool{ID: id, Key: "k" + id, Settings: g.settings(), At: at}
	case op < 12:
		e164 := fmt.Sprintf("+1415555%04d", g.r.IntN(10000))
		g.nums = append(g.nums, e164)
		return &AddNumber{Pool: g.pick(g.pools[max(0, len(g.pools)-5):]), E164: e164, ProviderID: "PN" + e164[1:], At: at}
	case op < 45:
		a := allocator.Attribution{Source: "google", Medium: "cpc", Campaign: fmt.Sprintf("c%d", g.r.IntN(5))}
		if g.r.IntN(3) > 0 {
			// A gclid as Google makes them; now and then one a script made up.
			a.GCLID = fmt.Sprintf("Cj0KCQiA4L67BhDUARIsADWrl7Fm3sNN-%d_wcB", g.n)
			if g.r.IntN(10) == 0 {
				a.GCLID = fmt.Sprintf("x%d", g.n)
			}
		}
		if g.r.IntN(5) == 0 {
			id := g.visit() // a page view of a visit that may still be live
			pool, ok := g.poolOf[id]
			if !ok {
				pool = g.pick(g.pools)
			}
			return &Assign{Visit: id, PoolKey: "k" + pool, Attribution: a, At: at}
		}
		var id allocator.VisitID
		id[0], id[1], id[2] = byte(g.n), byte(g.n>>8), byte(g.n>>16)
		id[15] = byte(g.r.Uint32())
		pool := g.pick(g.pools[max(0, len(g.pools)-5):])
		g.visits = append(g.visits, id)
		g.poolOf[id] = pool
		// Now and then one a node wrote before the guards against scripts.
		return &Assign{Visit: id, PoolKey: "k" + pool, Attribution: a, At: at, Unguarded: g.r.IntN(20) == 0}
	case op < 60:
		ids := make([]allocator.VisitID, g.r.IntN(20))
		for i := range ids {
			ids[i] = g.visit()
		}
		return &Touch{Visits: ids, At: at}
	case op < 68:
		return &Expire{At: at}
	case op < 72:
		var req allocator.RequestID
		req[0] = byte(g.n)
		return &Refresh{Visit: g.visit(), Req: req, At: at}
	case op < 80:
		sid := fmt.Sprintf("CA%030d", g.n)
		g.sids = append(g.sids, sid)
		return &RecordCall{SID: sid, To: g.pick(g.nums[max(0, len(g.nums)-40):]), From: fmt.Sprintf("+1212555%04d", g.r.IntN(30)), At: at}
	case op < 85:
		statuses := []allocator.CallStatus{allocator.CallRinging, allocator.CallInProgress, allocator.CallCompleted, allocator.CallNoAnswer}
		return &UpdateCall{SID: g.pick(g.sids), Status: statuses[g.r.IntN(len(statuses))],
			Duration: time.Duration(g.r.IntN(300)) * time.Second, AnsweredBy: "+14155550100", At: at}
	case op < 91:
		size := 2 + g.r.IntN(10) // sometimes out of range
		var req allocator.RequestID
		req[0], req[1] = byte(g.n), byte(g.n>>8)
		patch := allocator.Patch{Size: &size}
		if g.r.IntN(5) == 0 {
			patch.Allocation = ptr([]allocator.Allocation{allocator.AllocateLRU, allocator.AllocateRandom}[g.r.IntN(2)])
		}
		if g.r.IntN(5) == 0 {
			patch.DisplaceAfter = ptr(time.Duration(g.r.IntN(200)) * time.Second)
		}
		if g.r.IntN(5) == 0 {
			patch.VisitsPerMinute, patch.VisitBurst = ptr(g.r.IntN(30)), ptr(g.r.IntN(5))
		}
		if g.r.IntN(8) == 0 {
			patch.Country = ptr([]string{"US", "CA", "gb"}[g.r.IntN(3)])
		}
		if g.r.IntN(5) == 0 {
			patch.AllowedOrigins = []string{"https://shop.example", "https://www.shop.example"}[:g.r.IntN(3)]
		}
		if g.r.IntN(6) == 0 {
			patch.Voicemail = ptr(g.voicemail())
		}
		if g.r.IntN(6) == 0 {
			patch.Hours = ptr(g.hours())
		}
		if g.r.IntN(8) == 0 {
			patch.Recording = &allocator.CallRecording{On: g.r.IntN(2) == 0}
		}
		if g.r.IntN(8) == 0 {
			patch.Autoscale = &allocator.Autoscale{MinSize: 4 + g.r.IntN(4), MaxSize: 4 + g.r.IntN(10)}
		}
		return &UpdatePool{ID: g.pick(g.pools), Req: req, Patch: patch, At: at}
	case op < 92 && g.r.IntN(3) == 0:
		from := 4 + g.r.IntN(6)
		return &Resize{Pool: g.pick(g.pools), From: from, To: from + g.r.IntN(9) - 4, Reason: fmt.Sprintf("traffic %d", g.n),
			DailyCap: g.r.IntN(6), At: at}
	case op < 92:
		return &DeletePool{ID: g.pick(g.pools), At: at}
	case op < 93 && g.r.IntN(2) == 0:
		id := fmt.Sprintf("tok%d", g.r.IntN(4))
		switch g.r.IntN(4) {
		case 0:
			return &DeleteToken{ID: id}
		case 1:
			return &EndSessions{TokenID: id, At: at}
		}
		var hash [32]byte
		hash[0], hash[31] = byte(g.r.IntN(2)), byte(g.n)
		return &CreateToken{ID: id, Name: "ops " + id, Hash: hash, CreatedAt: at, Role: Roles[g.r.IntN(len(Roles))]}
	case op < 93:
		id := fmt.Sprintf("node%d", g.r.IntN(4))
		if g.r.IntN(4) == 0 {
			return &RemoveNode{ID: id}
		}
		return &SetNode{ID: id, RaftAddr: fmt.Sprintf("10.0.0.%d:7000", g.n%250), HTTPAddr: fmt.Sprintf("10.0.0.%d:8080", g.n%250)}
	case op < 94:
		notices := []string{"", "no numbers left in area code 415; bought near +14155550100"}
		return &SetNotice{Pool: g.pick(g.pools), Notice: notices[g.r.IntN(2)]}
	case op < 96:
		return &MarkRelease{E164: g.pick(g.nums), At: at}
	case op < 97:
		return &ConfirmRelease{E164: g.pick(g.nums), At: at}
	case op < 98:
		outcomes := []allocator.CallOutcome{allocator.OutcomeLead, allocator.OutcomeSale, allocator.OutcomeNone, "maybe"}
		return &MarkCall{SID: g.pick(g.sids), Set: allocator.MarkFields(1 + g.r.IntN(15)),
			Outcome: outcomes[g.r.IntN(len(outcomes))], Value: allocator.Money(g.r.IntN(3) * 1999),
			Currency: []string{"USD", "EUR"}[g.r.IntN(2)], Note: fmt.Sprintf("note %d", g.n), At: at}
	case op < 99 && g.r.IntN(3) == 0:
		kinds := []allocator.RecordingKind{allocator.RecordingVoicemail, allocator.RecordingConversation, ""}
		statuses := []allocator.RecordingStatus{allocator.RecordingCompleted, allocator.RecordingDeleted, allocator.RecordingInProgress, ""}
		return &SaveRecording{Call: g.pick(g.sids), At: at, Recording: allocator.Recording{
			SID: fmt.Sprintf("RE%032d", g.r.IntN(g.n/20+1)), Kind: kinds[g.r.IntN(len(kinds))],
			Status: statuses[g.r.IntN(len(statuses))], Duration: time.Duration(g.r.IntN(60)) * time.Second,
			Transcript: []string{"", "Please call me back."}[g.r.IntN(2)], TranscriptStatus: []string{"", "completed"}[g.r.IntN(2)],
		}}
	case op < 99:
		key := allocator.SpendKey{Day: allocator.DayOf(at) - allocator.Day(g.r.IntN(3)), Source: "google", Medium: "cpc",
			Campaign: fmt.Sprintf("c%d", g.r.IntN(5))}
		if g.r.IntN(4) == 0 {
			return &DeleteSpend{Keys: []allocator.SpendKey{key}, At: at}
		}
		return &SetSpend{Rows: []allocator.Spend{{SpendKey: key, Cost: allocator.Money(g.r.IntN(100000))}}, At: at}
	case op < 100 && g.r.IntN(3) > 0:
		id := fmt.Sprintf("hook%d", g.r.IntN(3))
		switch g.r.IntN(6) {
		case 0:
			return &SetEndpoint{ID: id, Name: "crm", URL: "https://crm.example/hooks/" + id, Secret: "whsec_0123456789abcdef",
				Enabled: g.r.IntN(4) > 0, At: at}
		case 1:
			return &DeleteEndpoint{ID: id, At: at}
		}
		next := time.Time{}
		if g.r.IntN(3) > 0 {
			next = at.Add(time.Duration(1+g.r.IntN(60)) * time.Second)
		}
		return &RecordAttempt{Event: uint64(1 + g.r.IntN(g.n/10+1)), Endpoint: id, At: at, Status: []int{0, 200, 500}[g.r.IntN(3)],
			Error: "timeout", Delivered: g.r.IntN(2) == 0, NextAt: next}
	case g.r.IntN(4) == 0:
		return &SetVoicemail{Voicemail: g.voicemail(), At: at}
	default:
		m := allocator.DefaultMarketing
		m.Currency = []string{"USD", "EUR", "usd"}[g.r.IntN(3)]
		m.GoogleConversion = fmt.Sprintf("Calls %d", g.r.IntN(3))
		return &SetMarketing{Marketing: m, At: at}
	}
}

// commands draws n commands, sometimes grouping several into a Batch.
func (g *commandGen) commands(n int) []Command {
	var out []Command
	for len(out) < n {
		if g.r.IntN(10) == 0 {
			b := &Batch{}
			for range 1 + g.r.IntN(8) {
				b.Commands = append(b.Commands, g.next())
			}
			out = append(out, b)
			continue
		}
		out = append(out, g.next())
	}
	return out
}
