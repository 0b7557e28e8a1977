package standin

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"
)

// Faults make the stand-in misbehave the ways Twilio can, for tests and
// for trying dni in the sandbox. Counts go down as faults are served.
type Faults struct {
	// Latency delays every REST request.
	Latency time.Duration
	// RateLimitNext answers the next N REST requests 429, code 20429.
	RateLimitNext int
	// FailNext answers the next N REST requests 500, code 20500.
	FailNext int
	// TakeOnBuy answers the next N buys 400, code 21422, and takes the
	// number off sale, as if sold to someone else between search and buy.
	TakeOnBuy int
	// ExhaustAreaCodes have nothing for sale.
	ExhaustAreaCodes []string
	// NoLocalNumbers are countries whose local numbers are all sold:
	// only their mobile numbers are for sale.
	NoLocalNumbers []string
	// Callees says how the destinations of <Dial> behave, by E.164
	// number. Destinations not listed answer at the first ring.
	Callees map[string]Callee
	// Messages says what callers do at a <Record>, by the caller's E.164
	// number, "*" standing for every caller not listed. A caller in
	// neither speaks DefaultMessage for 12 s and hangs up.
	Messages map[string]Message
}

// Message is what a caller leaves at a <Record>.
type Message struct {
	// Silent callers say nothing, which makes an empty recording.
	Silent bool `json:"silent,omitempty"`
	// Seconds is how long the caller speaks; 0 means 12.
	Seconds int `json:"seconds,omitempty"`
	// Words are what the caller says, as a transcription reads them;
	// "" means DefaultMessage.
	Words string `json:"words,omitempty"`
	// FinishKey is the key the caller presses when done, such as "#";
	// "" means the caller hangs up instead, as most do.
	FinishKey string `json:"finish_key,omitempty"`
}

// DefaultMessage is what a caller says at a <Record> unless told otherwise.
const DefaultMessage = "Hi, this is Sam, please call me back about a quote."

func (m Message) seconds() int {
	switch {
	case m.Silent:
		return 0
	case m.Seconds <= 0:
		return 12
	}
	return m.Seconds
}

func (m Message) words() string {
	if m.Words == "" {
		return DefaultMessage
	}
	return m.Words
}

// Callee is how a dialled destination answers.
type Callee struct {
	// Answer is CalleeAnswers (the default), CalleeNoAnswer, CalleeBusy or
	// CalleeFails.
	Answer string `json:"answer,omitempty"`
	// AfterRings is when it answers; 0 means 1. A ring is 6 s, so a
	// callee that would answer after the <Dial> timeout does not answer.
	AfterRings int `json:"after_rings,omitempty"`
	// TalkSeconds is how long the bridged call lasts; 0 means 42.
	TalkSeconds int `json:"talk_seconds,omitempty"`
}

// What a Callee does when rung.
const (
	CalleeAnswers  = "answer"
	CalleeNoAnswer = "no-answer"
	CalleeBusy     = "busy"
	CalleeFails    = "failed"
)

// ringSeconds is one North American ring cycle.
const ringSeconds = 6

func (c Callee) rings() int {
	return max(c.AfterRings, 1)
}

func (c Callee) talk() int {
	if c.TalkSeconds <= 0 {
		return 42
	}
	return c.TalkSeconds
}

// faultsJSON is Faults on the wire, with the latency as Go duration text.
type faultsJSON struct {
	Latency          string             `json:"latency,omitempty"`
	RateLimitNext    int                `json:"rate_limit_next,omitempty"`
	FailNext         int                `json:"fail_next,omitempty"`
	TakeOnBuy        int                `json:"take_on_buy,omitempty"`
	ExhaustAreaCodes []string           `json:"exhaust_area_codes,omitempty"`
	NoLocalNumbers   []string           `json:"no_local_numbers,omitempty"`
	Callees          map[string]Callee  `json:"callees,omitempty"`
	Messages         map[string]Message `json:"messages,omitempty"`
}

// MarshalJSON writes the latency as text such as "250ms".
func (f Faults) MarshalJSON() ([]byte, error) {
	w := faultsJSON{
		RateLimitNext: f.RateLimitNext, FailNext: f.FailNext, TakeOnBuy: f.TakeOnBuy,
		ExhaustAreaCodes: f.ExhaustAreaCodes, NoLocalNumbers: f.NoLocalNumbers, Callees: f.Callees,
		Messages: f.Messages,
	}
	if f.Latency != 0 {
		w.Latency = f.Latency.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var w faultsJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var latency time.Duration
	if w.Latency != "" {
		d, err := time.ParseDuration(w.Latency)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		latency = d
	}
	*f = Faults{
		Latency: latency, RateLimitNext: w.RateLimitNext, FailNext: w.FailNext, TakeOnBuy: w.TakeOnBuy,
		ExhaustAreaCodes: w.ExhaustAreaCodes, NoLocalNumbers: w.NoLocalNumbers, Callees: w.Callees,
		Messages: w.Messages,
	}
	return nil
}

func (f Faults) clone() Faults {
	f.ExhaustAreaCodes = slices.Clone(f.ExhaustAreaCodes)
	f.NoLocalNumbers = slices.Clone(f.NoLocalNumbers)
	f.Callees = maps.Clone(f.Callees)
	f.Messages = maps.Clone(f.Messages)
	return f
}

// SetFaults replaces the faults in force.
func (s *Server) SetFaults(f Faults) {
	f = f.clone()
	exhausted := make(map[string]bool, len(f.ExhaustAreaCodes))
	for _, ac := range f.ExhaustAreaCodes {
		exhausted[ac] = true
	}
	s.fmu.Lock()
	s.faults, s.exhausted = f, exhausted
	s.fmu.Unlock()
}

// Faults returns the faults in force, with what is left of their counts.
func (s *Server) Faults() Faults {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults.clone()
}

func (s *Server) latency() time.Duration {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults.Latency
}

// requestFault takes the next rate-limit or failure fault, if one is due.
func (s *Server) requestFault() *Error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	switch {
	case s.faults.RateLimitNext > 0:
		s.faults.RateLimitNext--
		s.stats.rateLimited.Add(1)
		return apiError(http.StatusTooManyRequests, codeRateLimited, "Too Many Requests")
	case s.faults.FailNext > 0:
		s.faults.FailNext--
		s.stats.failed.Add(1)
		return apiError(http.StatusInternalServerError, codeInternal, "Internal Server Error")
	}
	return nil
}

// takeOnBuy reports whether this buy loses its number to someone else.
func (s *Server) takeOnBuy() bool {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.faults.TakeOnBuy > 0 {
		s.faults.TakeOnBuy--
		return true
	}
	return false
}

// noLocal reports whether a country's local numbers are all sold.
func (s *Server) noLocal(country string) bool {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return slices.Contains(s.faults.NoLocalNumbers, country)
}

func (s *Server) isExhausted(ac string) bool {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.exhausted[ac]
}

func (s *Server) callee(e164 string) Callee {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults.Callees[e164]
}

// message returns what the caller leaves at a <Record>.
func (s *Server) message(from string) Message {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if m, ok := s.faults.Messages[from]; ok {
		return m
	}
	return s.faults.Messages["*"]
}
