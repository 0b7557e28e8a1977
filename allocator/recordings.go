package allocator

import (
	"slices"
	"strings"
	"time"
)

// RecordingKind says what a call's recording holds.
type RecordingKind string

const (
	// RecordingVoicemail is a message the caller left (<Record>).
	RecordingVoicemail RecordingKind = "voicemail"
	// RecordingConversation is the forwarded conversation (<Dial record>).
	RecordingConversation RecordingKind = "conversation"
)

// RecordingStatus is where a recording is, in Twilio's words, and
// "deleted" once dni deleted it at Twilio.
type RecordingStatus string

// The recording statuses.
const (
	RecordingInProgress RecordingStatus = "in-progress"
	RecordingCompleted  RecordingStatus = "completed"
	RecordingAbsent     RecordingStatus = "absent" // nothing was said
	RecordingFailed     RecordingStatus = "failed"
	RecordingDeleted    RecordingStatus = "deleted"
)

// Valid reports whether s is one of the statuses above.
func (s RecordingStatus) Valid() bool {
	switch s {
	case RecordingInProgress, RecordingCompleted, RecordingAbsent, RecordingFailed, RecordingDeleted:
		return true
	}
	return false
}

// OutcomeVoicemail is the outcome of a call that ended in a message nobody
// judged yet: not a conversion until a person marks it one.
const OutcomeVoicemail CallOutcome = "voicemail"

// A Recording is audio of a call kept at the provider: dni keeps its id,
// never the audio, and plays it to signed-in users through itself.
type Recording struct {
	SID      string // Twilio's RecordingSid: "RE" and 32 letters or digits
	Kind     RecordingKind
	Status   RecordingStatus
	Duration time.Duration
	// Transcript is the message's text, when the pool asked for it and
	// Twilio made it; TranscriptStatus is "completed" or "failed" once
	// Twilio answered.
	Transcript       string
	TranscriptStatus string
	At               time.Time // when it was last changed
}

// Playable reports whether the recording's audio can be fetched.
func (r *Recording) Playable() bool { return r.Status == RecordingCompleted && r.Duration > 0 }

// Limits on recordings.
const (
	MaxRecordingsPerCall = 4
	MaxTranscriptLen     = 4000 // characters: ten minutes of speech
)

// SaveRecording reports a recording of a call, or news of one: its
// status, length and transcript as Twilio's callbacks tell them, or its
// deletion. Fields left zero stay as they were.
type SaveRecording struct {
	Call      string
	Recording Recording
	At        time.Time
}

// SaveRecording adds a recording to a call or updates it. A deleted
// recording stays deleted and loses its transcript. A completed voicemail
// message makes the call's outcome "voicemail" unless it has one already.
// News of a call not recorded yet is kept until the call's record arrives.
func (s *State) SaveRecording(r SaveRecording) (*Call, error) {
	at, err := stamp(r.At)
	if err != nil {
		return nil, err
	}
	n := &r.Recording
	switch {
	case !validCallSID(r.Call):
		return nil, ErrBadCall
	case !validRecordingSID(n.SID):
		return nil, invalid("recording_sid", "%q is not a recording id (RE and 32 letters or digits)", n.SID)
	case n.Kind != "" && n.Kind != RecordingVoicemail && n.Kind != RecordingConversation:
		return nil, invalid("kind", "must be %q or %q, got %q", RecordingVoicemail, RecordingConversation, n.Kind)
	case n.Status != "" && !n.Status.Valid():
		return nil, invalid("status", "unknown recording status %q", n.Status)
	case n.Duration < 0:
		return nil, invalid("duration", "must not be negative")
	}
	e := s.calls.get(r.Call)
	var c Call
	if e != nil {
		c = *e.cur.Load()
	} else {
		c = Call{SID: r.Call, StartedAt: fromMillis(at), UpdatedAt: fromMillis(at), Match: MatchNone}
	}
	i := slices.IndexFunc(c.Recordings, func(x Recording) bool { return x.SID == n.SID })
	added := i < 0
	if added {
		if len(c.Recordings) >= MaxRecordingsPerCall {
			return nil, invalid("recording_sid", "a call keeps at most %d recordings", MaxRecordingsPerCall)
		}
		c.Recordings = append(slices.Clip(c.Recordings), Recording{SID: n.SID, Kind: RecordingVoicemail, Status: RecordingInProgress})
		i = len(c.Recordings) - 1
	} else {
		c.Recordings = slices.Clone(c.Recordings) // calls never change once made
	}
	old, cur := c.Recordings[i], &c.Recordings[i]
	if cur.Status != RecordingDeleted {
		if n.Kind != "" {
			cur.Kind = n.Kind
		}
		if n.Status != "" {
			cur.Status = n.Status
		}
		if n.Duration > 0 {
			cur.Duration = n.Duration.Truncate(time.Second)
		}
		if n.TranscriptStatus != "" {
			cur.TranscriptStatus = clampString(n.TranscriptStatus, 16)
		}
		if n.Transcript != "" {
			cur.Transcript = clampString(strings.TrimSpace(n.Transcript), MaxTranscriptLen)
		}
	}
	if cur.Status == RecordingDeleted {
		cur.Transcript, cur.TranscriptStatus = "", ""
	}
	if *cur == old && !added {
		return e.cur.Load(), nil
	}
	cur.At = fromMillis(at)
	prev := e.load()
	if cur.Kind == RecordingVoicemail && cur.Playable() && !c.ByHand && c.Outcome == OutcomeUnset {
		c.Outcome, c.OutcomeAt = OutcomeVoicemail, fromMillis(at)
	}
	s.announce(prev, &c, at)
	return s.putCall(e, &c), nil
}

// Recording returns the call's recording with the given id, or nil.
func (c *Call) Recording(sid string) *Recording {
	for i := range c.Recordings {
		if c.Recordings[i].SID == sid {
			return &c.Recordings[i]
		}
	}
	return nil
}

// Voicemail reports whether the caller left a message.
func (c *Call) Voicemail() bool {
	return slices.ContainsFunc(c.Recordings, func(r Recording) bool { return r.Kind == RecordingVoicemail && r.Playable() })
}

func validRecordingSID(sid string) bool {
	return len(sid) == 34 && sid[:2] == "RE" && validCallSID(sid)
}
