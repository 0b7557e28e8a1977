package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/dni-dev/dni/cluster"
)

// privateDataDir makes the data dir its user's alone, whatever an older
// version or a loose umask left it as: the files in it hold the cluster's
// secret and every visitor's data. A data dir that belongs to someone else
// (the root of a Kubernetes volume) stays as it is; the node's own files
// in it are private (privateUmask), and so is raft/ (cluster.Start).
func privateDataDir(dir string, log *slog.Logger) {
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm()&0o077 == 0 {
		return
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		log.Info("the data dir is not the node's to make private; the node's own files in it are", "dir", dir, "mode", info.Mode(), "err", err)
	}
}

// explainCorrupt adds to a damaged file's error where the operator's guide
// says what to do.
func explainCorrupt(err error) error {
	var corrupt *cluster.CorruptFileError
	if errors.As(err, &corrupt) {
		return fmt.Errorf("%w; to recover the node, see %q in the operator's guide, docs/operations.md", err, "A node whose data dir is damaged")
	}
	return err
}
