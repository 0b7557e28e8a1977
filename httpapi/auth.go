package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
)

// Admin tokens are "dni_" and 64 hexadecimal characters. The cluster keeps
// only their SHA-256; a token's id is "tok_" and the first 12 hex
// characters of that hash, so the same token always has the same id.
const tokenPrefix = "dni_"

// MinTokenLen is the fewest characters an admin token may have, whatever
// it starts with: --admin-token refuses a shorter one, and the API and the
// login form take none.
const MinTokenLen = 16

func newToken() string {
	var b [32]byte
	rand.Read(b[:])
	return tokenPrefix + hex.EncodeToString(b[:])
}

func tokenID(hash [32]byte) string { return "tok_" + hex.EncodeToString(hash[:6]) }

// bearerToken reads "Bearer <token>" (the scheme in any case, RFC 7235).
func bearerToken(authorization []byte) ([]byte, bool) {
	if len(authorization) <= 7 || !bytes.EqualFold(authorization[:7], []byte("Bearer ")) {
		return nil, false
	}
	token := bytes.TrimSpace(authorization[7:])
	return token, len(token) > 0
}

// tokenFor finds the recorded token an Authorization header carries, with
// its role. It counts no failure: signIn does, for whoever answers one.
func (s *Server) tokenFor(authorization []byte) (fsm.Token, bool) {
	token, ok := bearerToken(authorization)
	if !ok || len(token) < MinTokenLen {
		return fsm.Token{}, false
	}
	return s.node.FSM().TokenByHash(sha256.Sum256(token))
}

// signIn checks a token presented from a client address, throttled: it
// returns the token, or how long that address (or whoever guesses at the
// token the attempt aimed at) must wait before it may try again.
func (s *Server) signIn(addr string, token []byte, now time.Time) (t fsm.Token, wait time.Duration, ok bool) {
	hash := sha256.Sum256(token)
	addrKey := "addr " + addressKey(addr)
	addrKey = addrKey[:min(len(addrKey), 80)]
	idKey := "token " + tokenID(hash)
	if wait := s.throttle.wait(now, addrKey, idKey); wait > 0 {
		return fsm.Token{}, wait, false
	}
	f := s.node.FSM()
	if len(token) >= MinTokenLen {
		if t, ok := f.TokenByHash(hash); ok {
			return t, 0, true
		}
	}
	s.throttle.fail(now, addrKey)
	// A wrong token whose id is a recorded token's was made to look like
	// it: someone is guessing that token, from however many addresses.
	if _, aimed := f.TokenByID(tokenID(hash)); aimed {
		s.throttle.fail(now, idKey)
	}
	return fsm.Token{}, 0, false
}

// adminAuthorized checks the bearer token against the hashes the cluster
// records, and its role against the one the route needs, answering 401,
// 403 or, to an address that guessed wrong too often, 429 itself.
func (s *Server) adminAuthorized(rc *fasthttp.RequestCtx, need fsm.Role) bool {
	token, ok := bearerToken(rc.Request.Header.Peek("Authorization"))
	if !ok {
		rc.Response.Header.Set("WWW-Authenticate", `Bearer realm="dni"`)
		writeError(rc, fasthttp.StatusUnauthorized, "an admin token is required: Authorization: Bearer <token>")
		return false
	}
	return s.tokenAllows(rc, token, need, `Bearer realm="dni", error="invalid_token"`)
}

// exportAuthorized lets in a token of any role, the export role included,
// sent with HTTP Basic (any user name, the token as the password: what an
// ad platform's scheduled fetch sends) or as a bearer token.
func (s *Server) exportAuthorized(rc *fasthttp.RequestCtx) bool {
	h := rc.Request.Header.Peek("Authorization")
	token, ok := bearerToken(h)
	if !ok {
		token, ok = basicPassword(h)
	}
	const challenge = `Basic realm="dni conversions", charset="UTF-8"`
	if !ok {
		rc.Response.Header.Set("WWW-Authenticate", challenge)
		writeError(rc, fasthttp.StatusUnauthorized, "an export token is required: HTTP Basic with any user name and the token as the password")
		return false
	}
	return s.tokenAllows(rc, token, fsm.RoleExport, challenge)
}

// basicPassword reads the password of "Basic base64(user:password)".
func basicPassword(authorization []byte) ([]byte, bool) {
	if len(authorization) <= 6 || !bytes.EqualFold(authorization[:6], []byte("Basic ")) {
		return nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(authorization[6:])))
	if err != nil {
		return nil, false
	}
	_, password, ok := bytes.Cut(raw, []byte(":"))
	return password, ok && len(password) > 0
}

// tokenAllows signs a token in, throttled, and checks its role against
// need, answering 401 (with challenge), 403 or 429 itself.
func (s *Server) tokenAllows(rc *fasthttp.RequestCtx, token []byte, need fsm.Role, challenge string) bool {
	t, wait, ok := s.signIn(s.clientIP(rc), token, time.Now())
	switch {
	case wait > 0:
		secs := retryAfter(wait)
		rc.Response.Header.Set("Retry-After", strconv.Itoa(secs))
		writeError(rc, fasthttp.StatusTooManyRequests, fmt.Sprintf("too many wrong admin tokens from this address: try again in %d seconds", secs))
		return false
	case !ok:
		rc.Response.Header.Set("WWW-Authenticate", challenge)
		writeError(rc, fasthttp.StatusUnauthorized, "invalid admin token")
		return false
	case t.Role == fsm.RoleExport && need != fsm.RoleExport:
		writeError(rc, fasthttp.StatusForbidden, "this is an export token: it fetches the conversion files under /v1/conversions/ and nothing else")
		return false
	case !t.Role.Allows(need):
		writeError(rc, fasthttp.StatusForbidden, fmt.Sprintf("this token's role, %s, may not do this: it needs the role %s", t.Role, need))
		return false
	}
	return true
}

// retryAfter is a wait in whole seconds, at least one.
func retryAfter(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// SignIn checks a token typed into the admin pages' login form, throttled
// as the admin API's bearer tokens are, and by the same counts. It returns
// the token, or how long the browser's address must wait.
func (s *Server) SignIn(rc *fasthttp.RequestCtx, token string) (t fsm.Token, wait time.Duration, ok bool) {
	return s.signIn(s.clientIP(rc), []byte(strings.TrimSpace(token)), time.Now())
}

// AdminToken returns the recorded token with this id: an admin page's
// session ends with its token, and has its role.
func (s *Server) AdminToken(id string) (fsm.Token, bool) { return s.node.FSM().TokenByID(id) }

// EndSessions ends, on every node, every admin page session begun with a
// token: a sign-out. through is the issue time of the session signing out;
// the end is stamped no earlier, so that a node whose clock lags ends it
// too.
func (s *Server) EndSessions(ctx context.Context, tokenID string, through time.Time) error {
	at := time.Now().UTC().Truncate(time.Millisecond)
	if through.After(at) {
		at = through
	}
	_, err := s.commitAndWait(ctx, &fsm.EndSessions{TokenID: tokenID, At: at})
	return err
}

// SessionKey is what the admin pages sign their sessions with: a key
// derived from the cluster secret, so that every node accepts a session
// any node began, and the secret itself stays here. It is nil when the
// node has no secret, and then no session can be made.
func (s *Server) SessionKey() []byte {
	if len(s.secret) == 0 {
		return nil
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("dni admin page sessions"))
	return m.Sum(nil)
}

// EnsureAdminToken makes sure the cluster has an admin token. With token
// set (from --admin-token), it records that token, with the role admin, if
// it is not yet known. Otherwise, if the cluster has no token at all, it
// makes one and returns it, for the node to hand over once: the cluster
// keeps only its hash.
func EnsureAdminToken(ctx context.Context, node *cluster.Node, token string) (created string, err error) {
	if token != "" && len(token) < MinTokenLen {
		return "", fmt.Errorf("an admin token must be at least %d characters, whatever it starts with", MinTokenLen)
	}
	// A node that just started waits for a leader, then for the log.
	for {
		err := node.CatchUp(ctx)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("catch up before checking admin tokens: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	name := "from --admin-token"
	if token == "" {
		if len(node.FSM().Tokens()) > 0 {
			return "", nil
		}
		token, name = newToken(), "made at first start"
	}
	hash := sha256.Sum256([]byte(token))
	if _, ok := node.FSM().TokenByHash(hash); ok {
		return "", nil
	}
	r, err := node.Commit(ctx, &fsm.CreateToken{ID: tokenID(hash), Name: name, Hash: hash, CreatedAt: time.Now(), Role: fsm.RoleAdmin})
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return "", fmt.Errorf("record the admin token: %w", err)
	}
	if name == "made at first start" {
		return token, nil
	}
	return "", nil
}

type tokenJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      fsm.Role  `json:"role"`
	Token     string    `json:"token,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) listTokens(rc *fasthttp.RequestCtx, _ []string) {
	out := []tokenJSON{}
	for _, t := range s.node.FSM().Tokens() {
		out = append(out, tokenJSON{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt})
	}
	writeJSON(rc, fasthttp.StatusOK, map[string]any{"tokens": out})
}

// DefaultRole is the role of a token made without one: the least, so that
// a token given out in a hurry can read reports and no more. Whoever needs
// more says so.
const DefaultRole = fsm.RoleReporting

// createToken makes a new token; its value is in this answer only.
func (s *Server) createToken(rc *fasthttp.RequestCtx, _ []string) {
	var req struct {
		Name string   `json:"name"`
		Role fsm.Role `json:"role"`
	}
	if err := decodeBody(rc, &req); err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if strings.TrimSpace(req.Name) == "" || !fsm.ValidTokenName(req.Name) {
		writeJSON(rc, fasthttp.StatusBadRequest, errorBody{Error: "name: must say what the token is for, in at most 100 characters", Field: "name"})
		return
	}
	if req.Role == "" {
		req.Role = DefaultRole
	}
	if !req.Role.Valid() {
		writeJSON(rc, fasthttp.StatusBadRequest, errorBody{Error: fmt.Sprintf("role: must be one of %v", fsm.Roles), Field: "role"})
		return
	}
	token := newToken()
	hash := sha256.Sum256([]byte(token))
	t := fsm.CreateToken{ID: tokenID(hash), Name: req.Name, Hash: hash, CreatedAt: time.Now().UTC().Truncate(time.Millisecond), Role: req.Role}
	if !s.commit(rc, &t) {
		return
	}
	writeJSON(rc, fasthttp.StatusCreated, tokenJSON{ID: t.ID, Name: t.Name, Role: t.Role, Token: token, CreatedAt: t.CreatedAt})
}

func (s *Server) deleteToken(rc *fasthttp.RequestCtx, p []string) {
	if !s.commit(rc, &fsm.DeleteToken{ID: p[0]}) {
		return
	}
	rc.SetStatusCode(fasthttp.StatusNoContent)
}

// commit applies an admin write through the cluster and waits until this
// node's state has it, so the answer (and the caller's next read) sees it.
// It writes the error answer itself and reports whether it succeeded.
func (s *Server) commit(rc *fasthttp.RequestCtx, cmd fsm.Command) bool {
	ctx, cancel := requestContext()
	defer cancel()
	if _, err := s.commitAndWait(ctx, cmd); err != nil {
		writeErr(rc, err)
		return false
	}
	return true
}

// commitAndWait commits a write through the cluster and waits until this
// node's state has it, so that the caller's next read sees it. The
// state machine's refusal (the receipt's Err) is the error too.
func (s *Server) commitAndWait(ctx context.Context, cmd fsm.Command) (fsm.Receipt, error) {
	r, err := s.node.Commit(ctx, cmd)
	if err == nil {
		err = s.node.WaitApplied(ctx, r.Index)
	}
	if err == nil {
		err = r.Err
	}
	return r, err
}
