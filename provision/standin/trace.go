package standin

import (
	"slices"
	"sync"
	"time"
)

// CallTrace is what happened on a simulated call: what the caller and the
// agent heard, who was dialled, and every webhook request made.
type CallTrace struct {
	SID    string `json:"sid"`
	To     string `json:"to"`
	From   string `json:"from"`
	Status string `json:"status"` // "in-progress" until the call ends
	// AnsweredBy is the destination the caller was bridged to.
	AnsweredBy   string    `json:"answered_by,omitempty"`
	Dialed       []string  `json:"dialed"`        // every <Dial> destination, in order
	Whisper      []string  `json:"whisper"`       // <Say> texts the agent heard
	Said         []string  `json:"said"`          // <Say> texts the caller heard
	Played       []string  `json:"played"`        // <Play> URLs, as written
	DialTimeouts []int     `json:"dial_timeouts"` // each <Dial>'s timeout, seconds
	Requests     []Webhook `json:"requests"`
	// Recordings are the recordings made on the call, in order.
	Recordings []RecordingTrace `json:"recordings"`
	// Error says why the call failed or stopped early, if it did.
	Error     string    `json:"error,omitempty"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// DurationS is the simulated length of the call as Twilio bills it
	// (CallDuration): 0 unless the caller was answered.
	DurationS int `json:"duration_s"`
}

// Ended reports whether the call is over.
func (t CallTrace) Ended() bool { return t.Status != StatusInProgress }

// RecordingTrace is a recording made on a call.
type RecordingTrace struct {
	SID       string `json:"sid"`
	Source    string `json:"source"` // SourceRecordVerb or SourceDialVerb
	DurationS int    `json:"duration_s"`
	Channels  int    `json:"channels"`
	// Transcription is "completed" or "failed" when one was asked for.
	Transcription string `json:"transcription,omitempty"`
	// Transcript is the transcription's text when it completed.
	Transcript string `json:"transcript,omitempty"`
}

// Webhook is one request the simulator made to dni.
type Webhook struct {
	// Kind is voice, fallback, whisper, action (of a Dial or a Record),
	// redirect, recording (its status callback), transcription or status.
	Kind       string        `json:"kind"`
	URL        string        `json:"url"`
	StatusCode int           `json:"status_code"`     // 0 when no answer came
	Latency    time.Duration `json:"latency"`         // real time to the answer, nanoseconds
	Body       string        `json:"body"`            // the answer, cut at 4 KB
	Error      string        `json:"error,omitempty"` // why it counts as failed
}

// A call's status, in Twilio's words.
const (
	StatusInProgress = "in-progress"
	StatusCompleted  = "completed"
	StatusBusy       = "busy"
	StatusNoAnswer   = "no-answer"
	StatusFailed     = "failed"
	StatusCanceled   = "canceled"
)

func (t CallTrace) clone() CallTrace {
	t.Dialed = slices.Clone(t.Dialed)
	t.Whisper = slices.Clone(t.Whisper)
	t.Said = slices.Clone(t.Said)
	t.Played = slices.Clone(t.Played)
	t.Recordings = slices.Clone(t.Recordings)
	t.DialTimeouts = slices.Clone(t.DialTimeouts)
	t.Requests = slices.Clone(t.Requests)
	return t
}

// maxCalls is how many calls the stand-in remembers.
const maxCalls = 10000

// callLog remembers the latest calls, forgetting the oldest past its size.
type callLog struct {
	mu     sync.Mutex
	latest latest[*callEntry]
}

type callEntry struct {
	trace CallTrace
	done  chan struct{} // closed when the call ends
}

func newCallLog(size int) callLog {
	return callLog{latest: newLatest[*callEntry](size)}
}

func (l *callLog) add(t CallTrace) *callEntry {
	e := &callEntry{trace: t, done: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.latest.add(t.SID, e)
	return e
}

func (l *callLog) get(sid string) (*callEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latest.get(sid)
}

// edit changes a call's trace under the log's lock.
func (l *callLog) edit(e *callEntry, change func(*CallTrace)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	change(&e.trace)
}

// snapshot returns a copy of the call's trace.
func (l *callLog) snapshot(e *callEntry) CallTrace {
	l.mu.Lock()
	defer l.mu.Unlock()
	return e.trace.clone()
}
