package allocator

import (
	"fmt"
	"strings"
)

// ValidE164 reports whether s is a phone number in E.164 form: a plus sign,
// a non-zero country code digit and 8 to 15 digits in all.
func ValidE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Digits returns the decimal digits of s, dropping everything else.
func Digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// SwapTargetE164 reads a business number as a website displays it, such as
// "(415) 555-0100" or "+1 415 555 0100", and returns its E.164 form. A
// number written with a leading plus may be of any country; one without is
// read as a North American number of 10 digits, or 11 starting with 1.
func SwapTargetE164(s string) (string, error) {
	if strings.ContainsAny(s, "\n\r\t<>\"") {
		return "", fmt.Errorf("%q is not a phone number", s)
	}
	d := Digits(s)
	if strings.HasPrefix(strings.TrimSpace(s), "+") {
		if e := "+" + d; ValidE164(e) {
			return e, nil
		}
		return "", fmt.Errorf("%q is not a phone number", s)
	}
	if len(d) == 11 && d[0] == '1' {
		d = d[1:]
	}
	if len(d) != 10 || d[0] < '2' || d[3] < '2' {
		return "", fmt.Errorf("%q is not a 10-digit North American number", s)
	}
	return "+1" + d, nil
}

// ValidAreaCode reports whether s is a North American area code: three
// digits, the first 2 to 9.
func ValidAreaCode(s string) bool {
	return len(s) == 3 && s[0] >= '2' && s[0] <= '9' &&
		s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}
