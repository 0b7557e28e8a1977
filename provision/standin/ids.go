package standin

import (
	"crypto/rand"
	"encoding/hex"
)

// newSID returns a Twilio-style id: a two-letter prefix and 32 lowercase
// hex digits.
func newSID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// validAccountSID is twilio-go's rule for credentials (letters and digits)
// on top of Twilio's shape for an account SID.
func validAccountSID(s string) bool {
	return len(s) == 34 && s[:2] == "AC" && alphanumeric(s)
}

func alphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
