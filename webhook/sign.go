// Package webhook sends call events to the endpoints operators register:
// signed POSTs, retried with exponential backoff for a day, from the
// leader, with every attempt recorded in the replicated state so that a new
// leader carries on where the old one stopped.
//
// Every request carries these headers:
//
//	Dni-Event-Id:    evt_18c2f9a0b1e_42   (the same in every attempt: drop repeats)
//	Dni-Event-Type:  call.ended | call.outcome
//	Dni-Signature:   t=1733300000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// v1 is the lower-case hexadecimal HMAC-SHA256, keyed with the endpoint's
// secret, of the timestamp t (Unix seconds, as written), a full stop, and
// the raw request body. A receiver verifies a request with Verify, or in
// any language: compute the HMAC over t + "." + body, compare it with v1
// in constant time, refuse a t more than five minutes from its own clock
// (a replay of an old request), and keep the event ids it has seen for
// longer than that to drop repeats.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The headers of every request.
const (
	HeaderEventID   = "Dni-Event-Id"
	HeaderEventType = "Dni-Event-Type"
	HeaderSignature = "Dni-Signature"
)

// Tolerance is how far a request's timestamp may be from the receiver's
// clock before Verify refuses it as a replay.
const Tolerance = 5 * time.Minute

// Sign returns the Dni-Signature header of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors from Verify.
var (
	ErrBadSignature = errors.New("the signature does not match the body")
	ErrStale        = errors.New("the request's timestamp is too far from now: a replay, or a clock far off")
	ErrNoSignature  = errors.New("no well-formed Dni-Signature header")
)

// Verify checks a request's Dni-Signature header against its raw body
// and the endpoint's secret, at the receiver's time now.
func Verify(secret, header string, body []byte, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
			return ErrNoSignature
		case k == "t":
			ts = v
		case k == "v1":
			sigs = append(sigs, v) // more than one while a secret is rotated
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return ErrStale
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
