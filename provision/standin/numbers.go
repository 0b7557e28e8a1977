package standin

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Number is a phone number the account holds.
type Number struct {
	SID                  string    `json:"sid"`
	PhoneNumber          string    `json:"phone_number"`
	FriendlyName         string    `json:"friendly_name"`
	VoiceURL             string    `json:"voice_url"`
	VoiceMethod          string    `json:"voice_method"`
	VoiceFallbackURL     string    `json:"voice_fallback_url"`
	VoiceFallbackMethod  string    `json:"voice_fallback_method"`
	StatusCallback       string    `json:"status_callback"`
	StatusCallbackMethod string    `json:"status_callback_method"`
	DateCreated          time.Time `json:"date_created"`
	DateUpdated          time.Time `json:"date_updated"`
}

// record is a held number and when it was bought relative to the others,
// which orders lists and pages.
type record struct {
	Number
	Seq uint64 `json:"seq"`
}

// holdings are the account's numbers and the ones taken off sale by
// faults. Server.mu guards them.
type holdings struct {
	bySID   map[string]*record
	byPhone map[string]*record
	taken   map[string]bool
	seq     uint64
}

func newHoldings() holdings {
	return holdings{bySID: map[string]*record{}, byPhone: map[string]*record{}, taken: map[string]bool{}}
}

func (h *holdings) add(r *record) {
	h.bySID[r.SID] = r
	h.byPhone[r.PhoneNumber] = r
	h.seq = max(h.seq, r.Seq)
}

func (h *holdings) remove(r *record) {
	delete(h.bySID, r.SID)
	delete(h.byPhone, r.PhoneNumber)
}

// sorted returns the held numbers in the order they were bought.
func (h *holdings) sorted() []*record {
	out := make([]*record, 0, len(h.bySID))
	for _, r := range h.bySID {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *record) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// forSale reports whether e164 can be bought: in the stand-in's inventory
// (+1 AAA 555 0100 to 0199, or a range of countries.go), not held, not
// taken.
func (h *holdings) forSale(e164 string) bool {
	return inInventory(e164) && h.byPhone[e164] == nil && !h.taken[e164]
}

// Numbers returns the numbers the account holds, in the order bought.
func (s *Server) Numbers() []Number {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Number
	for _, r := range s.held.sorted() {
		out = append(out, r.Number)
	}
	return out
}

// RemoveNumber takes a held number, named by SID or E.164, off the
// account without going through the API, as an operator deleting it in
// Twilio's console would. It goes back on sale.
func (s *Server) RemoveNumber(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.held.bySID[id]
	if r == nil {
		r = s.held.byPhone[id]
	}
	if r == nil {
		return fmt.Errorf("remove %s: %w", id, ErrNotOwned)
	}
	s.held.remove(r)
	if err := s.saveLocked(); err != nil {
		s.held.add(r)
		return fmt.Errorf("remove %s: %w", id, err)
	}
	return nil
}

// Inventory: every valid area code sells the 100 fictional numbers
// +1 AAA 555 0100 to 0199, from the top down: examples and tests use the
// low ones (555-0100) as business numbers, and a demo whose tracking
// number equals its business number would show no swap.
const (
	firstLine = 100
	lastLine  = 199
)

func validAreaCode(s string) bool {
	return len(s) == 3 && '2' <= s[0] && s[0] <= '9' && isDigit(s[1]) && isDigit(s[2])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func inventoryNumber(ac string, line int) string {
	return fmt.Sprintf("+1%s555%04d", ac, line)
}

func inInventory(e164 string) bool {
	if _, _, ok := abroadRangeOf(e164); ok {
		return true
	}
	if len(e164) != 12 || e164[:2] != "+1" || !validAreaCode(e164[2:5]) || e164[5:8] != "555" {
		return false
	}
	line := 0
	for i := 8; i < 12; i++ {
		if !isDigit(e164[i]) {
			return false
		}
		line = line*10 + int(e164[i]-'0')
	}
	return firstLine <= line && line <= lastLine
}

// validE164 accepts a plus sign and 8 to 15 digits, the first not 0.
func validE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// formatNANP writes +14155550100 as Twilio's friendly name for it,
// "(415) 555-0100".
func formatNANP(e164 string) string {
	if len(e164) != 12 || !strings.HasPrefix(e164, "+1") {
		return e164
	}
	return "(" + e164[2:5] + ") " + e164[5:8] + "-" + e164[8:]
}
