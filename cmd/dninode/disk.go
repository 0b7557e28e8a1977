package main

import (
	"errors"
	"fmt"

	"github.com/dni-dev/dni/cluster"
)

// explainCorrupt adds to a damaged file's error where the operator's guide
// says what to do.
func explainCorrupt(err error) error {
	var corrupt *cluster.CorruptFileError
	if errors.As(err, &corrupt) {
		return fmt.Errorf("%w; to recover the node, see %q in the operator's guide, docs/operations.md", err, "A node whose data dir is damaged")
	}
	return err
}
