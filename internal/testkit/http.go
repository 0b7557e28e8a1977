package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// VisitorAgent is the user agent the tests' visitors send, in requests and
// in the browser: a person's Chrome (not HeadlessChrome, which dni takes
// for a bot and gives no number).
const VisitorAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

// Reply is an HTTP answer as a client got it.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r Reply) String() string { return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body)) }

// Decode reads a JSON answer into v, failing the test if it is not.
func (r Reply) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("the answer is not the JSON expected: %v: %s", err, r.Body)
	}
}

var httpClient = &http.Client{
	Timeout: Patience,
	// Tests see redirects as they are.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Send makes one request to the node. A string or []byte body goes as it
// is, with no Content-Type unless header sets one; any other body goes as
// JSON. header lists names and values.
func (n *Node) Send(method, path string, body any, header ...string) Reply {
	t := n.c.T
	t.Helper()
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, contentType = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, n.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Admin sends a request with the node's admin token.
func (n *Node) Admin(method, path string, body any, header ...string) Reply {
	n.c.T.Helper()
	return n.Send(method, path, body, append([]string{"Authorization", "Bearer " + n.Token}, header...)...)
}

// Visitor sends a request as the snippet in a person's browser does.
func (n *Node) Visitor(method, path string, body any, header ...string) Reply {
	n.c.T.Helper()
	return n.Send(method, path, body, append([]string{"User-Agent", VisitorAgent}, header...)...)
}

// AdminOK sends an admin request, fails the test unless the answer has the
// status want, and decodes its JSON into out unless out is nil.
func (n *Node) AdminOK(method, path string, body any, want int, out any) Reply {
	t := n.c.T
	t.Helper()
	r := n.Admin(method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s: want HTTP %d, got %s", method, path, want, r)
	}
	if out != nil {
		r.Decode(t, out)
	}
	return r
}
