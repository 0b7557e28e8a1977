package httpapi

import (
	"context"
	"errors"
	"io"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/provision"
)

// A call's recordings: listed on the call, played through dni to a
// signed-in user (the audio stays at Twilio, fetched with the account's
// credentials: never a public link), and deleted at Twilio too.
//
//	GET    /v1/calls/{sid}/recordings/{rec}/audio
//	DELETE /v1/calls/{sid}/recordings/{rec}

// CallRecording is a recording as the admin API shows it.
type CallRecording struct {
	SID              string    `json:"sid"`
	Kind             string    `json:"kind"`   // voicemail or conversation
	Status           string    `json:"status"` // in-progress, completed, absent, failed or deleted
	DurationS        int       `json:"duration_s"`
	Transcript       string    `json:"transcript,omitempty"`
	TranscriptStatus string    `json:"transcript_status,omitempty"`
	AudioURL         string    `json:"audio_url,omitempty"` // the admin API's, while it can be played
	UpdatedAt        time.Time `json:"updated_at"`
}

func recordingsOut(c *allocator.Call) []CallRecording {
	out := []CallRecording{}
	for _, r := range c.Recordings {
		cr := CallRecording{
			SID: r.SID, Kind: string(r.Kind), Status: string(r.Status), DurationS: int(r.Duration / time.Second),
			Transcript: r.Transcript, TranscriptStatus: r.TranscriptStatus, UpdatedAt: r.At,
		}
		if r.Playable() {
			cr.AudioURL = RecordingAudioPath(c.SID, r.SID)
		}
		out = append(out, cr)
	}
	return out
}

// RecordingAudioPath is where the admin API plays a recording.
func RecordingAudioPath(call, rec string) string {
	return "/v1/calls/" + url.PathEscape(call) + "/recordings/" + url.PathEscape(rec) + "/audio"
}

// Why a recording cannot be played or deleted.
var (
	ErrUnknownRecording = errors.New("the call has no such recording")
	ErrRecordingGone    = errors.New("the recording was deleted, or has no audio")
	ErrNoRecordings     = errors.New("recordings are not available: this node has no telephony provider")
)

// recording finds a call's recording.
func (a Admin) recording(call, rec string) (*allocator.Recording, error) {
	c := a.s.node.State().Call(call)
	if c == nil {
		return nil, allocator.ErrUnknownCall
	}
	r := c.Recording(rec)
	if r == nil {
		return nil, ErrUnknownRecording
	}
	return r, nil
}

// RecordingAudio opens a call's recording at the provider, with its
// content type. The caller closes it.
func (a Admin) RecordingAudio(ctx context.Context, call, rec string) (io.ReadCloser, string, error) {
	r, err := a.recording(call, rec)
	switch {
	case err != nil:
		return nil, "", err
	case !r.Playable():
		return nil, "", ErrRecordingGone
	case a.s.opt.Telephony.Recordings == nil:
		return nil, "", ErrNoRecordings
	}
	body, ctype, err := a.s.opt.Telephony.Recordings.RecordingAudio(ctx, rec)
	if errors.Is(err, provision.ErrNotFound) {
		return nil, "", ErrRecordingGone
	}
	return body, ctype, err
}

// DeleteRecording deletes a call's recording at the provider, then marks
// it deleted (its transcript goes too). One the provider no longer has is
// marked deleted all the same.
func (a Admin) DeleteRecording(ctx context.Context, call, rec string) (Call, error) {
	r, err := a.recording(call, rec)
	if err != nil {
		return Call{}, err
	}
	if r.Status != allocator.RecordingDeleted {
		if a.s.opt.Telephony.Recordings == nil {
			return Call{}, ErrNoRecordings
		}
		if err := a.s.opt.Telephony.Recordings.DeleteRecording(ctx, rec); err != nil && !errors.Is(err, provision.ErrNotFound) {
			return Call{}, err
		}
	}
	if _, err := a.s.commitAndWait(ctx, &fsm.SaveRecording{Call: call, At: time.Now(), Recording: allocator.Recording{
		SID: rec, Status: allocator.RecordingDeleted,
	}}); err != nil {
		return Call{}, err
	}
	return a.Call(call)
}

func (s *Server) recordingAudio(rc *fasthttp.RequestCtx, p []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	body, ctype, err := s.Admin(rc).RecordingAudio(ctx, p[0], p[1])
	if err != nil {
		cancel()
		writeErr(rc, err)
		return
	}
	rc.SetContentType(ctype)
	rc.Response.Header.Set("Cache-Control", "private, no-store")
	rc.Response.Header.Set("Content-Disposition", `inline; filename="`+p[1]+`.wav"`)
	rc.SetBodyStream(&cancelOnClose{body, cancel}, -1)
}

// cancelOnClose ends a request's context when fasthttp has sent the body
// and closes it.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}

func (s *Server) deleteRecording(rc *fasthttp.RequestCtx, p []string) {
	ctx, cancel := requestContext()
	defer cancel()
	c, err := s.Admin(rc).DeleteRecording(ctx, p[0], p[1])
	if err != nil {
		writeErr(rc, err)
		return
	}
	writeJSON(rc, fasthttp.StatusOK, c)
}
