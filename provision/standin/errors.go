package standin

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors of the call simulator, for callers to branch on with errors.Is.
var (
	// ErrBadNumber: To or From is not an E.164 phone number.
	ErrBadNumber = errors.New("not an E.164 phone number")
	// ErrNotOwned: the account does not hold the number.
	ErrNotOwned = errors.New("the account does not hold that number")
	// ErrNoCall: no call with that SID is remembered.
	ErrNoCall = errors.New("no such call")
	// ErrClosed: the stand-in has been closed.
	ErrClosed = errors.New("the stand-in is closed")
)

// Error is Twilio's JSON error answer. The stand-in answers every failed
// request with one, and Client returns the one it got.
type Error struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("HTTP %d, code %d: %s", e.Status, e.Code, e.Message)
}

// apiError returns Twilio's error with its documentation link.
func apiError(status, code int, format string, args ...any) *Error {
	return &Error{
		Code:     code,
		Message:  fmt.Sprintf(format, args...),
		MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		Status:   status,
	}
}

// Twilio's codes for what the stand-in refuses.
const (
	codeInvalidParameter = 20001
	codeAuth             = 20003
	codeNotFound         = 20404
	codeRateLimited      = 20429
	codeInternal         = 20500
	codeUnavailable      = 20503
	codeBadPhoneNumber   = 21421
	codeNumberTaken      = 21422
	codeBadAreaCode      = 21451
	codeNoNumbers        = 21452
	codeBundleRequired   = 21649
)

func errAuth() *Error {
	return apiError(http.StatusUnauthorized, codeAuth, "Authenticate")
}

func errNotFound(path string) *Error {
	return apiError(http.StatusNotFound, codeNotFound, "The requested resource %s was not found", path)
}
