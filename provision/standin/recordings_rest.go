package standin

import (
	"net/http"
	"strconv"
	"strings"
)

// recordingResource is a Recording as Twilio's API writes it.
type recordingResource struct {
	AccountSID        string            `json:"account_sid"`
	APIVersion        string            `json:"api_version"`
	CallSID           string            `json:"call_sid"`
	ConferenceSID     *string           `json:"conference_sid"`
	DateCreated       string            `json:"date_created"`
	DateUpdated       string            `json:"date_updated"`
	StartTime         string            `json:"start_time"`
	Duration          string            `json:"duration"`
	SID               string            `json:"sid"`
	Price             *string           `json:"price"`
	PriceUnit         string            `json:"price_unit"`
	Status            string            `json:"status"`
	Channels          int               `json:"channels"`
	Source            string            `json:"source"`
	ErrorCode         *int              `json:"error_code"`
	URI               string            `json:"uri"`
	EncryptionDetails *struct{}         `json:"encryption_details"`
	SubresourceURIs   map[string]string `json:"subresource_uris"`
	MediaURL          string            `json:"media_url"`
}

func (s *Server) recordingResource(r recording) recordingResource {
	created := r.started.Format(rfc2822)
	return recordingResource{
		AccountSID:  s.accountSID,
		APIVersion:  apiVersion,
		CallSID:     r.callSID,
		DateCreated: created,
		DateUpdated: created,
		StartTime:   created,
		Duration:    strconv.Itoa(r.durationS),
		SID:         r.sid,
		PriceUnit:   "USD",
		Status:      "completed",
		Channels:    r.channels,
		Source:      r.source,
		URI:         "/2010-04-01/Accounts/" + s.accountSID + "/Recordings/" + r.sid + ".json",
		// Only what the stand-in serves: it keeps no transcriptions or add-on results.
		SubresourceURIs: map[string]string{},
		MediaURL:        s.recordingURL(r.sid),
	}
}

// fetchRecording answers a recording's metadata (.json) or its audio as
// WAV (.wav, or no extension, as Twilio does). MP3 is refused with a 404
// that says why: the stand-in has no MP3 encoder, and an answer in
// another format than asked would mislead a player.
func (s *Server) fetchRecording(w http.ResponseWriter, r *http.Request) {
	sid, ext, _ := strings.Cut(r.PathValue("Sid"), ".")
	rec, ok := s.recordings.get(sid)
	if !ok {
		writeError(w, errNotFound(r.URL.Path))
		return
	}
	switch ext {
	case "json":
		writeJSON(w, http.StatusOK, s.recordingResource(rec))
	case "", "wav":
		w.Header().Set("Content-Type", "audio/x-wav")
		w.Header().Set("Content-Length", strconv.FormatInt(wavSize(rec.durationS), 10))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			writeWAV(w, rec.durationS)
		}
	case "mp3":
		writeError(w, apiError(http.StatusNotFound, codeNotFound,
			"The stand-in serves recordings as WAV only: ask for %s.wav", sid))
	default:
		writeError(w, errNotFound(r.URL.Path))
	}
}

func (s *Server) deleteRecording(w http.ResponseWriter, r *http.Request) {
	if sid := jsonSID(r); sid == "" || !s.recordings.remove(sid) {
		writeError(w, errNotFound(r.URL.Path))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
