package standin

import (
	"strings"
	"sync"
	"time"
)

// recording is an audio recording made on a simulated call. Its audio is
// computed when asked for: a quiet tone as long as the recording.
type recording struct {
	sid       string
	callSID   string // always the parent leg, as Twilio's
	source    string // SourceRecordVerb or SourceDialVerb
	channels  int
	durationS int
	started   time.Time
	words     string // what was said, for the transcription
}

// Where a recording came from, as Twilio's RecordingSource says.
const (
	SourceRecordVerb = "RecordVerb"
	SourceDialVerb   = "DialVerb"
)

// maxRecordings is how many recordings the stand-in keeps, in memory
// only: a restart forgets them, as a sandbox may.
const maxRecordings = 10000

// recordingStore keeps the latest recordings, forgetting the oldest past
// its size.
type recordingStore struct {
	mu     sync.Mutex
	latest latest[*recording]
}

func newRecordingStore(size int) recordingStore {
	return recordingStore{latest: newLatest[*recording](size)}
}

func (st *recordingStore) add(r *recording) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.latest.add(r.sid, r)
}

func (st *recordingStore) get(sid string) (recording, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	r, ok := st.latest.get(sid)
	if !ok {
		return recording{}, false
	}
	return *r, true
}

// remove deletes a recording and reports whether there was one.
func (st *recordingStore) remove(sid string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.latest.remove(sid)
}

// recordingURL is the recording's address as Twilio gives it in webhooks:
// without an extension, which Twilio serves as WAV.
func (s *Server) recordingURL(sid string) string {
	return s.apiBase() + "/2010-04-01/Accounts/" + s.accountSID + "/Recordings/" + sid
}

// apiBase is where the stand-in serves its REST API, or Twilio's own
// address when it serves only through Handler.
func (s *Server) apiBase() string {
	if u := s.URL(); u != "" {
		return u
	}
	return "https://api.twilio.com"
}

// newRecording stores a recording of the call just made and returns it.
func (s *Server) newRecording(callSID, source string, channels, seconds int, words string) recording {
	r := &recording{
		sid: newSID("RE"), callSID: callSID, source: source, channels: channels,
		durationS: seconds, started: time.Now().UTC().Add(-time.Duration(seconds) * time.Second).Truncate(time.Second),
		words: words,
	}
	s.recordings.add(r)
	return *r
}

// cutWords returns the words said in the first part of a message of
// total seconds cut at seconds.
func cutWords(words string, seconds, total int) string {
	if seconds >= total || total <= 0 {
		return words
	}
	f := strings.Fields(words)
	return strings.Join(f[:len(f)*seconds/total], " ")
}
