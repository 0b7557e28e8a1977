package cluster

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// raftLogger gives raft an hclog.Logger that writes through slog, so raft's
// lines look like the node's own: its warnings and errors as such, its info
// lines (routine) at debug.
func raftLogger(log *slog.Logger) hclog.Logger {
	level := hclog.Error
	for _, l := range []struct {
		slog  slog.Level
		hclog hclog.Level
	}{{slog.LevelWarn, hclog.Warn}, {slog.LevelDebug, hclog.Info}} {
		if log.Enabled(context.Background(), l.slog) {
			level = l.hclog
		}
	}
	return hclog.New(&hclog.LoggerOptions{
		Name: "raft", Level: level, JSONFormat: true, Output: slogWriter{log},
	})
}

// slogWriter takes hclog's JSON lines, one per Write, and logs them again.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	var line map[string]any
	if err := json.Unmarshal(p, &line); err != nil {
		w.log.Warn(strings.TrimSpace(string(p)))
		return len(p), nil
	}
	// Raft's info lines are routine (replication started, entries sent);
	// the node logs what an operator needs at info itself.
	level := slog.LevelDebug
	switch line["@level"] {
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	msg, _ := line["@message"].(string)
	var attrs []any
	if module, ok := line["@module"].(string); ok {
		attrs = append(attrs, "module", module)
	}
	for _, k := range slices.Sorted(maps.Keys(line)) {
		if !strings.HasPrefix(k, "@") {
			attrs = append(attrs, k, line[k])
		}
	}
	w.log.Log(context.Background(), level, msg, attrs...)
	return len(p), nil
}
