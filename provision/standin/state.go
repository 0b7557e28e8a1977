package standin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// stateFile is what Options.StatePath holds. The credentials are kept only
// when the stand-in made them up, so that a restart serves the same account.
type stateFile struct {
	AccountSID string   `json:"account_sid,omitempty"`
	AuthToken  string   `json:"auth_token,omitempty"`
	Numbers    []record `json:"numbers"`
	Taken      []string `json:"taken,omitempty"`
}

// loadState reads path into the server; a missing file is a fresh start.
func (s *Server) loadState(path string) (*stateFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &stateFile{}, nil
	}
	if err != nil {
		return nil, err
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i := range st.Numbers {
		r := st.Numbers[i]
		s.held.add(&r)
	}
	for _, e := range st.Taken {
		s.held.taken[e] = true
	}
	return &st, nil
}

// saveLocked writes the state file, if there is one, atomically: a crash
// leaves the old file or the new one. The caller holds s.mu.
func (s *Server) saveLocked() error {
	if s.statePath == "" {
		return nil
	}
	st := stateFile{Numbers: []record{}}
	if s.madeCredentials {
		st.AccountSID, st.AuthToken = s.accountSID, s.authToken
	}
	for _, r := range s.held.sorted() {
		st.Numbers = append(st.Numbers, *r)
	}
	for e := range s.held.taken {
		st.Taken = append(st.Taken, e)
	}
	slices.Sort(st.Taken)
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(s.statePath, b)
}

func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}
