// Package provision buys, configures and releases tracking numbers at a
// telephony provider, and keeps every pool at its size.
//
// Provider is what dni needs from a provider; Twilio implements it with the
// real twilio-go client, which talks either to api.twilio.com or to the
// Twilio-compatible stand-in in provision/standin (the sandbox). The
// Reconciler runs on the cluster's leader and brings the provider's numbers
// and the replicated state together.
package provision

import (
	"context"
	"errors"
	"io"
)

// Provider is a telephony account that sells numbers and sends their calls
// to dni's webhooks. Methods are safe for concurrent use.
type Provider interface {
	// Search lists up to q.Limit numbers for sale that match q.
	Search(ctx context.Context, q Query) ([]Available, error)
	// Buy buys the number and points it at the hooks in cfg.
	Buy(ctx context.Context, e164 string, cfg NumberConfig) (Owned, error)
	// List returns every number the account holds, dni's or not.
	List(ctx context.Context) ([]Owned, error)
	// Update changes a held number's name and hooks.
	Update(ctx context.Context, sid string, cfg NumberConfig) (Owned, error)
	// Release gives a held number back. Releasing a number the account no
	// longer holds returns ErrNotFound.
	Release(ctx context.Context, sid string) error
}

// Recordings plays and deletes the provider's call recordings.
type Recordings interface {
	// RecordingAudio returns the recording's audio and its Content-Type.
	// The caller closes it; ctx bounds reading it too.
	RecordingAudio(ctx context.Context, sid string) (io.ReadCloser, string, error)
	// DeleteRecording deletes the recording at the provider. Deleting one
	// already gone returns ErrNotFound.
	DeleteRecording(ctx context.Context, sid string) error
}

// Query says which numbers to search for. Every set field must match.
type Query struct {
	Country string // ISO country code; "" means "US"
	// AreaCode is a 3-digit North American area code; "" means any.
	AreaCode string
	// NearNumber asks for numbers close to this E.164 number (within
	// Distance miles, 25 when 0), used when its area code has none left.
	NearNumber string
	Distance   int
	// Contains narrows numbers outside North America by their digits
	// (Twilio's pattern: digits, * for any one): the country and area
	// code of the business number, such as "4420".
	Contains string
	// Mobile searches mobile numbers, for a country with no local ones
	// for sale.
	Mobile bool
	Limit  int // at most this many; 0 means the provider's default
}

// Available is a number for sale.
type Available struct {
	E164     string
	Locality string // city, when the provider knows it
	Region   string // state or province
}

// AreaCode returns the North American area code of the number, or "".
func (a Available) AreaCode() string { return AreaCodeOf(a.E164) }

// NumberConfig is what dni sets on a number it holds.
type NumberConfig struct {
	// FriendlyName tags the number with its pool (see Tag), so a number
	// bought but not yet recorded can be found again.
	FriendlyName   string
	VoiceURL       string // incoming calls, POST
	FallbackURL    string // when VoiceURL fails, POST
	StatusCallback string // call progress, POST
}

// Owned is a number the account holds.
type Owned struct {
	SID            string // the provider's id, such as Twilio's PN…
	E164           string
	FriendlyName   string
	VoiceURL       string
	FallbackURL    string
	StatusCallback string
}

// Config returns the number's name and hooks as a NumberConfig.
func (o Owned) Config() NumberConfig {
	return NumberConfig{
		FriendlyName: o.FriendlyName, VoiceURL: o.VoiceURL,
		FallbackURL: o.FallbackURL, StatusCallback: o.StatusCallback,
	}
}

// Errors a Provider returns, wrapped with the provider's own message, for
// callers to branch on with errors.Is.
var (
	// ErrAuth: the credentials were refused (Twilio 20003).
	ErrAuth = errors.New("provider refused the credentials")
	// ErrNotFound: no such number or recording on the account (Twilio
	// 20404).
	ErrNotFound = errors.New("not found at the provider")
	// ErrNumberTaken: the number was sold to someone else between search
	// and buy (Twilio 21422).
	ErrNumberTaken = errors.New("number no longer available")
	// ErrNoNumbers: nothing for sale matches the search (Twilio 21452, or
	// an empty result).
	ErrNoNumbers = errors.New("no numbers available")
	// ErrBadAreaCode: the provider does not know the area code (Twilio
	// 21451).
	ErrBadAreaCode = errors.New("invalid area code")
	// ErrRateLimited: too many requests (Twilio 20429); retry after a
	// backoff.
	ErrRateLimited = errors.New("rate limited by the provider")
	// ErrRegulatory: the country's rules need an address or a regulatory
	// bundle on the account before the provider sells its numbers.
	ErrRegulatory = errors.New("the provider needs an address or a regulatory bundle for this country")
	// ErrUnavailable: the provider failed or could not be reached (HTTP
	// 5xx, a timeout, a connection error); retry later.
	ErrUnavailable = errors.New("provider unavailable")
)

// AreaCodeOf returns the area code of a +1 E.164 number, or "".
func AreaCodeOf(e164 string) string {
	if len(e164) == 12 && e164[:2] == "+1" {
		return e164[2:5]
	}
	return ""
}
