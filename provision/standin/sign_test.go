package standin_test

import (
	"net/url"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/dni-dev/dni/provision/standin"
)

func TestSignatureIsAcceptedByTwilioGosValidator(t *testing.T) {
	const token = "12345678901234567890123456789012"
	inbound := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"},
	}
	tests := []struct {
		name   string
		url    string
		params url.Values
	}{
		{"plain URL", "https://mycompany.com/myapp.php", inbound},
		{"URL with a query string", "https://mycompany.com/myapp.php?foo=1&bar=2", inbound},
		{"URL with a port and a query", "http://127.0.0.1:8080/twilio/voice?pool=p1&x=%20y", inbound},
		{"no parameters, as for GET", "https://dni.example/voice?CallSid=CA1&From=%2B1212", url.Values{}},
		{"text that needs escaping", "https://dni.example/hook", url.Values{"FromCity": {"SÃO PAULO & co"}, "Body": {"a=b&c"}}},
	}
	v := client.NewRequestValidator(token)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := map[string]string{}
			for k, vs := range tt.params {
				params[k] = vs[0]
			}
			sig := standin.Sign(token, tt.url, tt.params)
			if !v.Validate(tt.url, params, sig) {
				t.Errorf("twilio-go refuses signature %s", sig)
			}
			if other := client.NewRequestValidator("another" + token[7:]); other.Validate(tt.url, params, sig) {
				t.Error("a different token accepts the signature")
			}
		})
	}
}

// twilio-go's own test vector: this URL, these parameters and this token
// sign as below.
func TestSignatureMatchesTwilioGosTestVector(t *testing.T) {
	params := url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"}, "ReasonConferenceEnded": {"test"},
		"Reason": {"Participant"},
	}
	got := standin.Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params)
	if want := "vOEb5UThFn24KEfnOFLQY2AE5FY="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}
