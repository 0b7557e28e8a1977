package fsm

import (
	"bytes"
	"cmp"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// Token is an admin API token as the cluster records it: never the token
// itself, only its SHA-256, so a snapshot or a stolen disk gives none away.
type Token struct {
	ID        string
	Name      string
	Hash      [32]byte
	CreatedAt time.Time
	// Role says what the token may do. Tokens recorded before roles
	// existed read as RoleAdmin: they could do everything.
	Role Role
	// SessionsEnd ends every admin page session begun with the token at
	// or before it (a sign-out); zero when none has ended.
	SessionsEnd time.Time
}

// Role is what a token may do. Each role may do all that the roles below
// it may: admin ⊃ operator ⊃ reporting ⊃ export.
type Role string

// The roles.
const (
	// RoleAdmin does everything: pools, numbers, tokens, the cluster.
	RoleAdmin Role = "admin"
	// RoleOperator runs the cluster (members, leadership, backups and
	// restores) and reads everything, but changes no pool and no token.
	RoleOperator Role = "operator"
	// RoleReporting reads pools, numbers, visits, calls and reports, and
	// nothing of the cluster: not even a backup, which holds everything.
	RoleReporting Role = "reporting"
	// RoleExport only fetches the offline conversion files, with HTTP
	// Basic (the ad platforms' scheduled fetches take a user name and a
	// password): a credential kept in an ad platform opens nothing else.
	RoleExport Role = "export"
)

// Roles lists the roles, the most powerful first.
var Roles = []Role{RoleAdmin, RoleOperator, RoleReporting, RoleExport}

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 4
	case RoleOperator:
		return 3
	case RoleReporting:
		return 2
	case RoleExport:
		return 1
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a token of role r may do what needs role need.
// An invalid role allows nothing, and nothing allows an invalid need.
func (r Role) Allows(need Role) bool { return need.Valid() && r.rank() >= need.rank() }

// CreateToken records a token. Creating it again with the same hash does
// nothing.
type CreateToken Token

// DeleteToken forgets a token, and records its hash among the revoked, so
// that restoring a backup taken before the delete does not bring it back.
type DeleteToken struct{ ID string }

// EndSessions ends every admin page session begun with a token at or
// before At: a sign-out, on every node at once. The node that accepts the
// sign-out stamps At.
type EndSessions struct {
	TokenID string
	At      time.Time
}

// Errors about tokens.
var (
	ErrTokenExists  = errors.New("a token with this id already exists")
	ErrUnknownToken = errors.New("no such token")
	ErrLastToken    = errors.New("this is the last admin token; make another before deleting it")
	ErrBadToken     = fmt.Errorf("token id must be 1 to %d bytes and its name at most %d characters", maxNodeField, maxTokenName)
	ErrBadRole      = fmt.Errorf("a token's role must be one of %v", Roles)
)

const maxTokenName = 100

func (*CreateToken) Type() Type { return TypeCreateToken }

// A token's fields added after the format was first used (its role, when
// its sessions end) go at the end, so that a command or a snapshot record
// written before them still decodes.
func (c *CreateToken) encode(e *encoder) {
	e.string(c.ID)
	e.string(c.Name)
	e.id([16]byte(c.Hash[:16]))
	e.id([16]byte(c.Hash[16:]))
	e.time(c.CreatedAt)
	e.string(string(c.Role))
	var end int64
	if !c.SessionsEnd.IsZero() {
		end = c.SessionsEnd.UnixMilli()
	}
	e.varint(end)
}

func decodeCreateToken(d *decoder) *CreateToken {
	c := &CreateToken{ID: d.string(), Name: d.string()}
	lo, hi := d.id(), d.id()
	copy(c.Hash[:16], lo[:])
	copy(c.Hash[16:], hi[:])
	c.CreatedAt = d.time()
	c.Role = RoleAdmin
	if d.more() {
		c.Role = Role(d.string())
	}
	if d.more() {
		if end := d.varint(); end != 0 {
			c.SessionsEnd = time.UnixMilli(end).UTC()
		}
	}
	return c
}

func applyCreateToken(m *machine, c *CreateToken) Result {
	if !ValidTokenName(c.Name) || c.ID == "" || len(c.ID) > maxNodeField {
		return Result{Err: ErrBadToken}
	}
	if !c.Role.Valid() {
		return Result{Err: ErrBadRole}
	}
	tokens := slices.Clone(*m.tokens.Load())
	i, found := slices.BinarySearchFunc(tokens, c.ID, func(t Token, id string) int { return cmp.Compare(t.ID, id) })
	if found {
		if tokens[i].Hash == c.Hash {
			return Result{}
		}
		return Result{Err: ErrTokenExists}
	}
	tokens = slices.Insert(tokens, i, Token(*c))
	m.tokens.Store(&tokens)
	// A token made again on purpose (--admin-token after a delete) is no
	// longer revoked.
	if revoked := *m.revoked.Load(); slices.ContainsFunc(revoked, func(h [32]byte) bool { return h == c.Hash }) {
		revoked = slices.DeleteFunc(slices.Clone(revoked), func(h [32]byte) bool { return h == c.Hash })
		m.revoked.Store(&revoked)
	}
	return Result{}
}

func (*DeleteToken) Type() Type { return TypeDeleteToken }

func (c *DeleteToken) encode(e *encoder) { e.string(c.ID) }

func decodeDeleteToken(d *decoder) *DeleteToken { return &DeleteToken{ID: d.string()} }

func applyDeleteToken(m *machine, c *DeleteToken) Result {
	tokens := *m.tokens.Load()
	i := slices.IndexFunc(tokens, func(t Token) bool { return t.ID == c.ID })
	if i < 0 {
		return Result{Err: ErrUnknownToken}
	}
	// The check is here, in the log's order, so two deletes at once cannot
	// both pass it and lock everyone out.
	if len(tokens) == 1 {
		return Result{Err: ErrLastToken}
	}
	revoked := addRevoked(*m.revoked.Load(), tokens[i].Hash)
	tokens = slices.Delete(slices.Clone(tokens), i, i+1)
	m.tokens.Store(&tokens)
	m.revoked.Store(&revoked)
	return Result{}
}

// addRevoked returns a copy of the sorted list revoked with h in it.
func addRevoked(revoked [][32]byte, h [32]byte) [][32]byte {
	i, found := slices.BinarySearchFunc(revoked, h, compareHash)
	out := slices.Clone(revoked)
	if !found {
		out = slices.Insert(out, i, h)
	}
	return out
}

func compareHash(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) }

func (*EndSessions) Type() Type { return TypeEndSessions }

func (c *EndSessions) encode(e *encoder) {
	e.string(c.TokenID)
	e.time(c.At)
}

func decodeEndSessions(d *decoder) *EndSessions {
	return &EndSessions{TokenID: d.string(), At: d.time()}
}

func applyEndSessions(m *machine, c *EndSessions) Result {
	tokens := *m.tokens.Load()
	i := slices.IndexFunc(tokens, func(t Token) bool { return t.ID == c.TokenID })
	if i < 0 {
		return Result{Err: ErrUnknownToken}
	}
	// An end only moves later: a node whose clock lags cannot bring back
	// sessions another node ended.
	if !c.At.After(tokens[i].SessionsEnd) {
		return Result{}
	}
	tokens = slices.Clone(tokens)
	tokens[i].SessionsEnd = c.At
	m.tokens.Store(&tokens)
	return Result{}
}

// ValidTokenName reports whether name can name a token.
func ValidTokenName(name string) bool {
	return utf8.ValidString(name) && utf8.RuneCountInString(name) <= maxTokenName
}

// checkTokens checks the tokens and revoked hashes of a snapshot.
func checkTokens(tokens []Token, revoked [][32]byte) error {
	for i, t := range tokens {
		if t.ID == "" || i > 0 && tokens[i-1].ID >= t.ID {
			return fmt.Errorf("%w: tokens out of order or without id", ErrBadSnapshot)
		}
		if !t.Role.Valid() {
			return fmt.Errorf("%w: token %s has the role %q", ErrBadSnapshot, t.ID, t.Role)
		}
	}
	for i := 1; i < len(revoked); i++ {
		if compareHash(revoked[i-1], revoked[i]) >= 0 {
			return fmt.Errorf("%w: revoked tokens out of order", ErrBadSnapshot)
		}
	}
	return nil
}

// Tokens lists the recorded tokens, by ID. The slice is shared and must not
// be changed.
func (f *FSM) Tokens() []Token { return *f.m.Load().tokens.Load() }

// Revoked lists the hashes of the tokens deleted (and not made again), in
// order. The slice is shared and must not be changed.
func (f *FSM) Revoked() [][32]byte { return *f.m.Load().revoked.Load() }

// TokenByHash returns the token whose hash is h. Every recorded hash is
// compared in constant time, so the answer's timing tells nothing.
func (f *FSM) TokenByHash(h [32]byte) (Token, bool) {
	var found Token
	ok := 0
	for _, t := range f.Tokens() {
		if subtle.ConstantTimeCompare(t.Hash[:], h[:]) == 1 {
			found, ok = t, 1
		}
	}
	return found, ok == 1
}

// TokenByID returns the recorded token with this id.
func (f *FSM) TokenByID(id string) (Token, bool) {
	tokens := f.Tokens()
	i, found := slices.BinarySearchFunc(tokens, id, func(t Token, id string) int { return cmp.Compare(t.ID, id) })
	if !found {
		return Token{}, false
	}
	return tokens[i], true
}

// RestoreTokens decides the tokens a backup restored into a cluster will
// have, given the cluster's tokens and revoked hashes now, and the token
// that asked for the restore through the admin API (nil otherwise). It
// never unites the two sets of tokens:
//
//   - The backup's tokens, minus every token revoked in the cluster or in
//     the backup, plus the token that asked, so that it is not locked out.
//     A session ended in the cluster stays ended.
//   - A token that asked but is not an admin keeps the cluster's tokens as
//     they are: restoring is an operator's job, changing tokens is not,
//     and a backup can be made by hand.
//   - If that would leave no token, the cluster's stay: a cluster is never
//     left without a way in.
//
// The revoked hashes are those of both, minus the tokens kept.
func (img *Image) RestoreTokens(current []Token, revoked [][32]byte, by *Token) {
	all := slices.Clone(revoked)
	for _, h := range img.Revoked {
		all = addRevoked(all, h)
	}
	isRevoked := func(h [32]byte) bool {
		_, found := slices.BinarySearchFunc(all, h, compareHash)
		return found
	}
	var tokens []Token
	if by == nil || by.Role == RoleAdmin {
		for _, t := range img.Tokens {
			if isRevoked(t.Hash) || by != nil && (t.ID == by.ID || t.Hash == by.Hash) {
				continue
			}
			if i := slices.IndexFunc(current, func(c Token) bool { return c.Hash == t.Hash }); i >= 0 && current[i].SessionsEnd.After(t.SessionsEnd) {
				t.SessionsEnd = current[i].SessionsEnd
			}
			tokens = append(tokens, t)
		}
		if by != nil {
			tokens = append(tokens, *by)
		}
	}
	if len(tokens) == 0 {
		tokens = slices.Clone(current)
	}
	slices.SortFunc(tokens, func(a, b Token) int { return cmp.Compare(a.ID, b.ID) })
	img.Tokens = tokens
	img.Revoked = slices.DeleteFunc(all, func(h [32]byte) bool {
		return slices.ContainsFunc(tokens, func(t Token) bool { return t.Hash == h })
	})
}
