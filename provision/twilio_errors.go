package provision

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/twilio/twilio-go/client"
)

// Twilio's error codes that dni branches on.
const (
	codeAuth        = 20003
	codeNotFound    = 20404
	codeRateLimited = 20429
	codeNumberTaken = 21422
	codeBadAreaCode = 21451
	codeNoNumbers   = 21452
	// A purchase the country's rules forbid without an address (21631)
	// or a regulatory bundle (21649) on the account.
	codeAddressRequired = 21631
	codeBundleRequired  = 21649
)

// fail turns what twilio-go returned into an error that matches one of
// the package's sentinels where one applies and keeps Twilio's code and
// message. Anything but an answer from Twilio (a refused connection, a
// timeout, a body that is not Twilio's JSON, such as a proxy's error page)
// is ErrUnavailable, with the cause still reachable through errors.Is.
func fail(op string, err error) error {
	var rest *client.TwilioRestError
	if !errors.As(err, &rest) {
		return fmt.Errorf("twilio: %s: %w: %w", op, ErrUnavailable, err)
	}
	if sentinel := classify(rest); sentinel != nil {
		return fmt.Errorf("twilio: %s: %w (%d: %s)", op, sentinel, rest.Code, rest.Message)
	}
	return fmt.Errorf("twilio: %s: HTTP %d, code %d: %s: %w", op, rest.Status, rest.Code, rest.Message, rest)
}

// classify returns the sentinel for a Twilio error, or nil.
func classify(e *client.TwilioRestError) error {
	switch {
	case e.Code == codeAuth || e.Status == http.StatusUnauthorized:
		return ErrAuth
	case e.Code == codeNotFound || e.Status == http.StatusNotFound:
		return ErrNotFound
	case e.Code == codeNumberTaken:
		return ErrNumberTaken
	case e.Code == codeNoNumbers:
		return ErrNoNumbers
	case e.Code == codeBadAreaCode:
		return ErrBadAreaCode
	case e.Code == codeAddressRequired || e.Code == codeBundleRequired:
		return ErrRegulatory
	case e.Code == codeRateLimited || e.Status == http.StatusTooManyRequests:
		return ErrRateLimited
	case e.Status >= http.StatusInternalServerError:
		return ErrUnavailable
	}
	return nil
}
