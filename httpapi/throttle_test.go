package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/internal/testkit"
)

// from sends an admin request with a token, from a client address as the
// trusted proxy in front of the node reports it.
func (a *testAPI) from(addr, token, method, path string) testkit.Reply {
	a.t.Helper()
	return a.Send(method, path, nil, "Authorization", "Bearer "+token, "X-Forwarded-For", addr)
}

func retryAfter(t *testing.T, r testkit.Reply) int {
	t.Helper()
	s, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || s < 1 {
		t.Fatalf("a 429 without a Retry-After of whole seconds: %q", r.Header.Get("Retry-After"))
	}
	return s
}

func TestWrongTokensFromOneAddressAreThrottledLongerEachTimeWhileOtherAddressesGetIn(t *testing.T) {
	a := startAPI(t, httpapi.Options{ClientIPHeader: "X-Forwarded-For"})
	const guesser = "203.0.113.7"
	wrong := "dni_" + strings.Repeat("0", 64)

	start := time.Now()
	statuses := map[int]int{}
	first429 := -1
	for i := range 300 {
		r := a.from(guesser, wrong, "GET", "/v1/pools")
		statuses[r.Status]++
		switch r.Status {
		case http.StatusUnauthorized:
			if first429 >= 0 && i == first429+1 {
				t.Fatalf("attempt %d: a wrong token was checked right after a 429", i)
			}
		case http.StatusTooManyRequests:
			wantProblem(t, r, http.StatusTooManyRequests, "")
			retryAfter(t, r)
			if first429 < 0 {
				first429 = i
			}
		default:
			t.Fatalf("attempt %d: %s", i, r)
		}
	}
	elapsed := time.Since(start)
	// Five are free; then each checked attempt makes the next wait 1 s,
	// 2 s, 4 s...: within elapsed, only so many more can be checked.
	most := httpapi.DefaultSignInFailures + 1 + int(math.Ceil(math.Log2(elapsed.Seconds()+1)))
	if first429 != httpapi.DefaultSignInFailures+1 || statuses[http.StatusUnauthorized] > most {
		t.Fatalf("in %v: %v, first 429 at attempt %d; want %d answered 401 then 429s, at most %d 401s",
			elapsed, statuses, first429, httpapi.DefaultSignInFailures+1, most)
	}
	t.Logf("300 wrong tokens in %v: %v", elapsed.Round(time.Millisecond), statuses)

	// The right token from the guessing address waits too: the throttle
	// does not check what it refuses. From another address it works.
	right := a.from(guesser, a.Token, "GET", "/v1/pools")
	wantProblem(t, right, http.StatusTooManyRequests, "")
	wantStatus(t, a.from("198.51.100.1", a.Token, "GET", "/v1/pools"), http.StatusOK)
	wantStatus(t, a.Admin("GET", "/v1/pools", nil), http.StatusOK) // no header: the connection's address

	// Once the wait is over, one more wrong token is checked, and the wait
	// after it is longer.
	wait := retryAfter(t, right)
	time.Sleep(time.Duration(wait)*time.Second + 100*time.Millisecond)
	wantProblem(t, a.from(guesser, wrong, "GET", "/v1/pools"), http.StatusUnauthorized, "")
	if next := retryAfter(t, a.from(guesser, wrong, "GET", "/v1/pools")); next <= wait {
		t.Fatalf("the wait after another wrong token is %d s; the one before was %d s", next, wait)
	}
}

func TestAnIPv6ClientIsThrottledByItsSlash64(t *testing.T) {
	a := startAPI(t, httpapi.Options{ClientIPHeader: "X-Forwarded-For"})
	wrong := "dni_" + strings.Repeat("1", 64)
	for i := range httpapi.DefaultSignInFailures + 1 {
		// Another address of the same /64 each time.
		wantStatus(t, a.from(fmt.Sprintf("2001:db8:1:2::%x", i+1), wrong, "GET", "/v1/pools"), http.StatusUnauthorized)
	}
	wantStatus(t, a.from("2001:db8:1:2:ffff::1", a.Token, "GET", "/v1/pools"), http.StatusTooManyRequests)
	wantStatus(t, a.from("2001:db8:1:3::1", a.Token, "GET", "/v1/pools"), http.StatusOK)
	// An IPv4 address written as IPv6 is that IPv4 address.
	for range httpapi.DefaultSignInFailures + 1 {
		a.from("198.51.100.9", wrong, "GET", "/v1/pools")
	}
	wantStatus(t, a.from("::ffff:198.51.100.9", a.Token, "GET", "/v1/pools"), http.StatusTooManyRequests)
}

// A guesser who knows a token's id (it is in session cookies and the
// token list) can try, from many addresses, only tokens whose hash starts
// as that id does: those attempts are counted against the token too.
func TestGuessesAimedAtOneTokenAreThrottledWhateverTheirAddresses(t *testing.T) {
	a := startAPI(t, httpapi.Options{ClientIPHeader: "X-Forwarded-For"})
	// A token recorded under the id of the guess: as if the guess had been
	// ground until its hash began as the real token's does.
	const guess = "dni_a-guess-ground-to-match-the-id"
	h := sha256.Sum256([]byte(guess))
	real := sha256.Sum256([]byte("dni_the-real-token-behind-the-id"))
	a.Command(&fsm.CreateToken{ID: "tok_" + hex.EncodeToString(h[:6]), Name: "targeted", Hash: real, CreatedAt: time.Now(), Role: fsm.RoleAdmin})

	for i := range httpapi.DefaultSignInFailures + 1 {
		wantStatus(t, a.from(fmt.Sprintf("198.51.100.%d", i+1), guess, "GET", "/v1/pools"), http.StatusUnauthorized)
	}
	r := a.from("192.0.2.200", guess, "GET", "/v1/pools")
	wantProblem(t, r, http.StatusTooManyRequests, "")
	// Other tokens are not held up.
	wantStatus(t, a.from("192.0.2.201", a.Token, "GET", "/v1/pools"), http.StatusOK)
}

func TestATokenShorterThan16CharactersIsNeverTaken(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	short := "dni_a"
	ctx := t.Context()
	if _, err := httpapi.EnsureAdminToken(ctx, a.Node.Node, short); err == nil || !strings.Contains(err.Error(), "16") {
		t.Fatalf("--admin-token %s: %v", short, err)
	}
	if _, err := httpapi.EnsureAdminToken(ctx, a.Node.Node, "fifteen-chars-x"); err == nil {
		t.Fatal("a 15-character token was taken")
	}
	// Even one recorded before the rule, by hand, is not taken.
	h := sha256.Sum256([]byte(short))
	a.Command(&fsm.CreateToken{ID: "tok_short", Name: "old and short", Hash: h, CreatedAt: time.Now(), Role: fsm.RoleAdmin})
	wantProblem(t, a.as(short).Admin("GET", "/v1/pools", nil), http.StatusUnauthorized, "")
	if _, err := httpapi.EnsureAdminToken(ctx, a.Node.Node, "sixteen-chars-xy"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, a.as("sixteen-chars-xy").Admin("GET", "/v1/tokens", nil), http.StatusOK)
}
