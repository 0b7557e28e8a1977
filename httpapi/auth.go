package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
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

func newToken() string {
	var b [32]byte
	rand.Read(b[:])
	return tokenPrefix + hex.EncodeToString(b[:])
}

func tokenID(hash [32]byte) string { return "tok_" + hex.EncodeToString(hash[:6]) }

// adminAuthorized checks the bearer token against the hashes the cluster
// records, answering 401 itself when it fails.
func (s *Server) adminAuthorized(rc *fasthttp.RequestCtx) bool {
	h := rc.Request.Header.Peek("Authorization")
	// The scheme is case-insensitive (RFC 7235).
	ok := len(h) > 7 && bytes.EqualFold(h[:7], []byte("Bearer "))
	var token []byte
	if ok {
		token = h[7:]
	}
	if !ok || len(bytes.TrimSpace(token)) == 0 {
		rc.Response.Header.Set("WWW-Authenticate", `Bearer realm="dni"`)
		writeError(rc, fasthttp.StatusUnauthorized, "an admin token is required: Authorization: Bearer <token>")
		return false
	}
	if _, ok := s.node.FSM().TokenByHash(sha256.Sum256(bytes.TrimSpace(token))); !ok {
		rc.Response.Header.Set("WWW-Authenticate", `Bearer realm="dni", error="invalid_token"`)
		writeError(rc, fasthttp.StatusUnauthorized, "invalid admin token")
		return false
	}
	return true
}

// AdminTokenID returns the id of an admin token, if the cluster records
// it: the admin pages' login form checks the token with it.
func (s *Server) AdminTokenID(token string) (id string, ok bool) {
	token = strings.TrimSpace(token)
	if token == "" {
		return "", false
	}
	t, ok := s.node.FSM().TokenByHash(sha256.Sum256([]byte(token)))
	return t.ID, ok
}

// AdminTokenExists reports whether the cluster still records the token
// with this id: an admin page's session ends with its token.
func (s *Server) AdminTokenExists(id string) bool {
	for _, t := range s.node.FSM().Tokens() {
		if t.ID == id {
			return true
		}
	}
	return false
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
// set (from --admin-token), it records that token if it is not yet known.
// Otherwise, if the cluster has no token at all, it makes one and returns
// it, to be printed once: the cluster keeps only its hash.
func EnsureAdminToken(ctx context.Context, node *cluster.Node, token string) (created string, err error) {
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
	} else if !strings.HasPrefix(token, tokenPrefix) && len(token) < 16 {
		return "", errors.New("an admin token must be at least 16 characters")
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
	Token     string    `json:"token,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) listTokens(rc *fasthttp.RequestCtx, _ []string) {
	out := []tokenJSON{}
	for _, t := range s.node.FSM().Tokens() {
		out = append(out, tokenJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt})
	}
	writeJSON(rc, fasthttp.StatusOK, map[string]any{"tokens": out})
}

// createToken makes a new token; its value is in this answer only.
func (s *Server) createToken(rc *fasthttp.RequestCtx, _ []string) {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeBody(rc, &req); err != nil {
		writeError(rc, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if strings.TrimSpace(req.Name) == "" || !fsm.ValidTokenName(req.Name) {
		writeJSON(rc, fasthttp.StatusBadRequest, errorBody{Error: "name: must say what the token is for, in at most 100 characters", Field: "name"})
		return
	}
	token := newToken()
	hash := sha256.Sum256([]byte(token))
	t := fsm.CreateToken{ID: tokenID(hash), Name: req.Name, Hash: hash, CreatedAt: time.Now().UTC().Truncate(time.Millisecond), Role: fsm.RoleAdmin}
	if !s.commit(rc, &t) {
		return
	}
	writeJSON(rc, fasthttp.StatusCreated, tokenJSON{ID: t.ID, Name: t.Name, Token: token, CreatedAt: t.CreatedAt})
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
