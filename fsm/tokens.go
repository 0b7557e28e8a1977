package fsm

import (
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
}

// CreateToken records a token. Creating it again with the same hash does
// nothing.
type CreateToken Token

// DeleteToken forgets a token.
type DeleteToken struct{ ID string }

// Errors about tokens.
var (
	ErrTokenExists  = errors.New("a token with this id already exists")
	ErrUnknownToken = errors.New("no such token")
	ErrLastToken    = errors.New("this is the last admin token; make another before deleting it")
	ErrBadToken     = fmt.Errorf("token id must be 1 to %d bytes and its name at most %d characters", maxNodeField, maxTokenName)
)

const maxTokenName = 100

func (*CreateToken) Type() Type { return TypeCreateToken }

func (c *CreateToken) encode(e *encoder) {
	e.string(c.ID)
	e.string(c.Name)
	e.id([16]byte(c.Hash[:16]))
	e.id([16]byte(c.Hash[16:]))
	e.time(c.CreatedAt)
}

func decodeCreateToken(d *decoder) *CreateToken {
	c := &CreateToken{ID: d.string(), Name: d.string()}
	lo, hi := d.id(), d.id()
	copy(c.Hash[:16], lo[:])
	copy(c.Hash[16:], hi[:])
	c.CreatedAt = d.time()
	return c
}

func applyCreateToken(m *machine, c *CreateToken) Result {
	if !ValidTokenName(c.Name) || c.ID == "" || len(c.ID) > maxNodeField {
		return Result{Err: ErrBadToken}
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
	tokens = slices.Delete(slices.Clone(tokens), i, i+1)
	m.tokens.Store(&tokens)
	return Result{}
}

// ValidTokenName reports whether name can name a token.
func ValidTokenName(name string) bool {
	return utf8.ValidString(name) && utf8.RuneCountInString(name) <= maxTokenName
}

// Tokens lists the recorded tokens, by ID. The slice is shared and must not
// be changed.
func (f *FSM) Tokens() []Token { return *f.m.Load().tokens.Load() }

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
