package standin

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
)

// Sign returns the X-Twilio-Signature Twilio sends with a request to
// rawURL carrying the form params: Base64(HMAC-SHA1(authToken, rawURL
// followed by each parameter's name and value, sorted by name)). For a GET
// webhook the parameters are in rawURL and params is empty.
func Sign(authToken, rawURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(rawURL))
	for _, name := range slices.Sorted(maps.Keys(params)) {
		for _, v := range params[name] {
			mac.Write([]byte(name))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
