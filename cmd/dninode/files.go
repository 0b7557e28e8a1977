package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/dni-dev/dni/cluster"
)

// The files a node keeps beside its Raft state in the data dir.
const (
	nodeIDFile     = "node-id"
	secretFile     = "cluster-secret"
	adminTokenFile = "admin-token"
)

var validNodeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// resolveNodeID returns the node's id: the one given, else the one stored in
// the data dir by an earlier start, else a new random one. The id is stored
// so that the node keeps it forever; a given id that differs from the
// stored one is refused.
func resolveNodeID(dataDir, given string) (string, error) {
	path := filepath.Join(dataDir, nodeIDFile)
	stored, err := readSmallFile(path)
	if err != nil {
		return "", err
	}
	switch {
	case stored != "" && given != "" && stored != given:
		return "", usagef("--node-id %s, but the data dir %s belongs to node %s (see %s); a node's id never changes: "+
			"drop --node-id, or use a new data dir for a new node", given, dataDir, stored, path)
	case stored != "":
		if !validNodeID.MatchString(stored) {
			return "", fmt.Errorf("%s holds %q, which is not a node id", path, stored)
		}
		return stored, nil
	case given == "" && hasRaftState(dataDir):
		return "", usagef("the data dir %s has Raft state but no %s file: pass the node's --node-id", dataDir, nodeIDFile)
	}
	id := given
	if id == "" {
		b := make([]byte, 4)
		rand.Read(b)
		id = "node-" + hex.EncodeToString(b)
	}
	if !validNodeID.MatchString(id) {
		return "", usagef("--node-id %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	if err := writeFileAtomic(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("store the node id: %w", err)
	}
	return id, nil
}

// resolveSecret returns the cluster secret a node authenticates with, and
// the file it came from (empty when given). Without one given, a node that
// joins refuses to start, since it must share the cluster's; a node that
// starts a new cluster uses the data dir's secret file, created on its
// first start.
func resolveSecret(dataDir, given string, joining bool) (secret, path string, err error) {
	if given != "" {
		if len(given) < cluster.MinSecretLen {
			return "", "", usagef("--cluster-secret is %d bytes; it must be at least %d: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' makes one",
				len(given), cluster.MinSecretLen)
		}
		return given, "", nil
	}
	if joining {
		return "", "", usagef("a node that joins needs the cluster's secret: set --cluster-secret or DNI_CLUSTER_SECRET " +
			"(the first node prints where it keeps it)")
	}
	path = filepath.Join(dataDir, secretFile)
	secret, err = readSmallFile(path)
	if err != nil {
		return "", "", err
	}
	if secret != "" {
		if len(secret) < cluster.MinSecretLen {
			return "", "", fmt.Errorf("%s holds a secret of %d bytes; a cluster secret must be at least %d", path, len(secret), cluster.MinSecretLen)
		}
		return secret, path, nil
	}
	if hasRaftState(dataDir) {
		return "", "", usagef("the data dir %s has Raft state but no %s file: set the cluster's --cluster-secret or DNI_CLUSTER_SECRET",
			dataDir, secretFile)
	}
	b := make([]byte, 32)
	rand.Read(b)
	secret = hex.EncodeToString(b)
	if err := writeFileAtomic(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("store the cluster secret: %w", err)
	}
	return secret, path, nil
}

// hasRaftState reports whether the data dir holds a Raft log from an
// earlier start.
func hasRaftState(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "raft", "raft.db"))
	return err == nil
}

// readSmallFile returns a file's content without surrounding space, or ""
// if there is no such file.
func readSmallFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// writeFileAtomic writes a file so that a crash leaves either the old file
// or the whole new one: it writes a temporary file beside it, syncs it and
// renames it into place.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename lasts only once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// announceAdminToken hands over the admin token the node made at the
// cluster's first start: the cluster keeps only its hash, so this is the
// one chance. The token goes to a file only its owner reads, in the data
// dir; it is shown only on a terminal, since a service's output is kept in
// logs (journald, docker logs) that more people read.
func announceAdminToken(out io.Writer, terminal bool, dataDir, token string) error {
	path := filepath.Join(dataDir, adminTokenFile)
	if err := writeFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		// Without the file the token would be lost, and the cluster locked.
		fmt.Fprintf(out, "admin token (it could not be stored in %s: %v; shown once, keep it): %s\n", path, err, token)
		return fmt.Errorf("store the admin token: %w", err)
	}
	if terminal {
		fmt.Fprintf(out, "admin token (kept in %s, readable by its owner only): %s\n", path, token)
		return nil
	}
	fmt.Fprintf(out, "admin token: made at first start and kept in %s, readable by its owner only (not printed here, where logs keep it): cat %s\n", path, path)
	return nil
}

// isTerminal reports whether w is a terminal (a character device): the
// admin token is printed only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
