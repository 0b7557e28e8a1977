package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"slices"
	"testing"
	"time"
)

var tokenTime = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func token(name string, role Role) Token {
	h := sha256.Sum256([]byte("dni_" + name))
	return Token{ID: "tok_" + name, Name: name, Hash: h, CreatedAt: tokenTime, Role: role}
}

// applyAll applies commands in order and returns their results.
func applyAll(f *FSM, cmds ...Command) []Result {
	first := f.AppliedIndex() + 1
	var out []Result
	for _, r := range f.ApplyBatch(logs(cmds, first)) {
		out = append(out, r.(Result))
	}
	return out
}

// oldCreateToken is a CreateToken as nodes wrote it before roles: it ends
// with the time it was made.
func oldCreateToken(t Token) []byte {
	var e encoder
	e.string(t.ID)
	e.string(t.Name)
	e.id([16]byte(t.Hash[:16]))
	e.id([16]byte(t.Hash[16:]))
	e.time(t.CreatedAt)
	return e.buf
}

func TestATokenRecordedBeforeRolesExistedIsAnAdminInTheLogAndInSnapshots(t *testing.T) {
	old := token("old", "")
	c, err := Decode(append([]byte{byte(TypeCreateToken)}, oldCreateToken(old)...))
	if err != nil {
		t.Fatal(err)
	}
	if got := Token(*c.(*CreateToken)); got.Role != RoleAdmin || !got.SessionsEnd.IsZero() || got.ID != old.ID || got.Hash != old.Hash {
		t.Fatalf("an old CreateToken decodes as %+v", got)
	}

	// A snapshot of that time: a meta record, the token record, the end.
	b := []byte(snapshotMagic)
	b = binary.AppendUvarint(b, SnapshotVersion)
	record := func(t recordType, body []byte) {
		b = binary.AppendUvarint(append(b, byte(t)), uint64(len(body)))
		b = append(b, body...)
	}
	record(recordMeta, []byte{0, 0, 0, 0})
	record(recordToken, oldCreateToken(old))
	crc := crc32.Checksum(b, castagnoli)
	record(recordEnd, binary.BigEndian.AppendUint32(nil, crc))
	backup, err := ReadBackup(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := backup.Image.Tokens; len(got) != 1 || got[0].Role != RoleAdmin {
		t.Fatalf("an old snapshot's tokens read as %+v", got)
	}
}

func TestATokenNeedsOneOfTheRoles(t *testing.T) {
	f := New(nil)
	for _, role := range []Role{"", "root", "Admin"} {
		c := CreateToken(token("x", role))
		if r := applyAll(f, &c)[0]; !errors.Is(r.Err, ErrBadRole) {
			t.Errorf("role %q: %v", role, r.Err)
		}
	}
	if len(f.Tokens()) != 0 {
		t.Fatalf("tokens %+v", f.Tokens())
	}
	for _, c := range []struct {
		role, need Role
		ok         bool
	}{
		{RoleAdmin, RoleAdmin, true}, {RoleAdmin, RoleOperator, true}, {RoleAdmin, RoleReporting, true},
		{RoleOperator, RoleAdmin, false}, {RoleOperator, RoleOperator, true}, {RoleOperator, RoleReporting, true},
		{RoleReporting, RoleAdmin, false}, {RoleReporting, RoleOperator, false}, {RoleReporting, RoleReporting, true},
		{"", RoleReporting, false}, {RoleAdmin, "", false},
	} {
		if got := c.role.Allows(c.need); got != c.ok {
			t.Errorf("%q allows %q: %v", c.role, c.need, got)
		}
	}
}

func TestADeletedTokenIsRevokedUntilItIsMadeAgain(t *testing.T) {
	f := New(nil)
	a, b := CreateToken(token("a", RoleAdmin)), CreateToken(token("b", RoleReporting))
	applyAll(f, &a, &b)
	if r := applyAll(f, &DeleteToken{ID: b.ID})[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := f.Revoked(); !slices.Equal(got, [][32]byte{b.Hash}) {
		t.Fatalf("revoked %x", got)
	}
	// The revocation is in the snapshot, and in a backup.
	if got := restored(t, snapshotBytes(t, f)).Revoked(); !slices.Equal(got, [][32]byte{b.Hash}) {
		t.Fatalf("restored revoked %x", got)
	}
	applyAll(f, &b)
	if len(f.Revoked()) != 0 || len(f.Tokens()) != 2 {
		t.Fatalf("made again: tokens %d, revoked %x", len(f.Tokens()), f.Revoked())
	}
}

func TestSessionsEndOnlyLater(t *testing.T) {
	f := New(nil)
	a := CreateToken(token("a", RoleAdmin))
	applyAll(f, &a)
	later, earlier := tokenTime.Add(time.Hour), tokenTime.Add(time.Minute)
	res := applyAll(f, &EndSessions{TokenID: a.ID, At: later}, &EndSessions{TokenID: a.ID, At: earlier}, &EndSessions{TokenID: "tok_none", At: later})
	if res[0].Err != nil || res[1].Err != nil || !errors.Is(res[2].Err, ErrUnknownToken) {
		t.Fatalf("results %+v", res)
	}
	got, _ := f.TokenByID(a.ID)
	if !got.SessionsEnd.Equal(later) {
		t.Fatalf("sessions end %v, want %v", got.SessionsEnd, later)
	}
	if again, _ := restored(t, snapshotBytes(t, f)).TokenByID(a.ID); !reflect.DeepEqual(again, got) {
		t.Fatalf("through a snapshot %+v became %+v", got, again)
	}
}

func TestARestoreTakesTheBackupsTokensMinusTheRevokedPlusTheOneThatAsked(t *testing.T) {
	admin, ops, old, leaked := token("admin", RoleAdmin), token("ops", RoleOperator), token("old", RoleReporting), token("leaked", RoleAdmin)
	made := token("made-later", RoleAdmin)
	ended := admin
	ended.SessionsEnd = tokenTime.Add(time.Hour)
	opsBackedUp := ops
	opsBackedUp.Role = RoleAdmin // the backup has another token under ops's id
	backup := func() *Image {
		return &Image{Tokens: []Token{admin, leaked, old, opsBackedUp}, Revoked: [][32]byte{made.Hash}}
	}
	revokedNow := [][32]byte{leaked.Hash}
	current := []Token{ended, made, ops}
	ids := func(ts []Token) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.ID+":"+string(t.Role))
		}
		return out
	}
	for _, c := range []struct {
		name    string
		by      *Token
		current []Token
		want    []string
	}{
		// leaked was revoked after the backup; made-later, made after it
		// and not revoked, is gone too: a restore is not a union.
		{"through the cluster port", nil, current, []string{"tok_admin:admin", "tok_old:reporting", "tok_ops:admin"}},
		{"by an admin", &made, current, []string{"tok_admin:admin", "tok_made-later:admin", "tok_old:reporting", "tok_ops:admin"}},
		{"by an operator", &ops, current, []string{"tok_admin:admin", "tok_made-later:admin", "tok_ops:operator"}},
		{"by the token the backup has another of", &ops, []Token{ops}, []string{"tok_ops:operator"}},
	} {
		img := backup()
		img.RestoreTokens(c.current, revokedNow, c.by)
		if got := ids(img.Tokens); !slices.Equal(got, c.want) {
			t.Errorf("%s: tokens %v, want %v", c.name, got, c.want)
		}
		for _, tok := range img.Tokens {
			if tok.ID == admin.ID && !tok.SessionsEnd.Equal(ended.SessionsEnd) {
				t.Errorf("%s: the sessions the cluster ended came back", c.name)
			}
			if slices.Contains(img.Revoked, tok.Hash) {
				t.Errorf("%s: %s is both kept and revoked", c.name, tok.ID)
			}
		}
		if !slices.Contains(img.Revoked, leaked.Hash) {
			t.Errorf("%s: the revocation was lost: %x", c.name, img.Revoked)
		}
		if err := checkTokens(img.Tokens, img.Revoked); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	// A backup whose every token was revoked leaves the cluster's.
	img := &Image{Tokens: []Token{leaked}}
	img.RestoreTokens(current, revokedNow, nil)
	if got := ids(img.Tokens); !slices.Equal(got, []string{"tok_admin:admin", "tok_made-later:admin", "tok_ops:operator"}) {
		t.Errorf("with nothing usable in the backup: %v", got)
	}
}

func TestASnapshotWithATokenOfNoRoleOrRevokedOutOfOrderIsRefused(t *testing.T) {
	f := New(nil)
	a, b := CreateToken(token("a", RoleAdmin)), CreateToken(token("b", RoleAdmin))
	applyAll(f, &a, &b, &DeleteToken{ID: b.ID})
	for name, spoil := range map[string]func(*Image){
		"a token of no role": func(img *Image) { img.Tokens[0].Role = "" },
		"revoked out of order": func(img *Image) {
			img.Revoked = [][32]byte{{2}, {1}}
		},
	} {
		f.mu.Lock()
		img := f.capture().image()
		f.mu.Unlock()
		img.Tokens = slices.Clone(img.Tokens)
		spoil(img)
		var buf bytes.Buffer
		if err := WriteSnapshot(&buf, img); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadBackup(&buf); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTokenCommandsSurviveTheirCodec(t *testing.T) {
	a := token("a", RoleOperator)
	a.SessionsEnd = tokenTime.Add(time.Minute)
	for _, c := range []Command{(*CreateToken)(&a), &DeleteToken{ID: a.ID}, &EndSessions{TokenID: a.ID, At: tokenTime}} {
		got, err := Decode(Encode(c))
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("%T: %+v, %v", c, got, err)
		}
	}
}
