package httpapi

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
)

// twilioSignature signs a form-encoded webhook body as Twilio does:
// Base64(HMAC-SHA1(token, url + each parameter's name and first value,
// sorted by name)). An unreadable body is signed as if it had no
// parameters.
func twilioSignature(token, u string, body []byte) string {
	form, _ := url.ParseQuery(string(body))
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(u))
	for _, k := range slices.Sorted(maps.Keys(form)) {
		mac.Write([]byte(k + form[k][0]))
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
