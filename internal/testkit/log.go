package testkit

import (
	"io"
	"log/slog"
	"sync"
	"testing"
)

// Logger returns a logger that writes to the test's output (shown when the
// test fails, or with -v), each line marked with the node's name.
func Logger(t testing.TB, name string) *slog.Logger {
	return newTestWriter(t).logger(name)
}

// testWriter writes to a test's output until the test is over; what is
// logged after (a goroutine winding down) is dropped, since a test must not
// be written to once it has ended. Create it before what logs to it, so
// that its cleanup runs after theirs.
type testWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func newTestWriter(t testing.TB) *testWriter {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.close)
	return w
}

func (w *testWriter) logger(name string) *slog.Logger {
	log := slog.New(slog.NewTextHandler(w, nil))
	if name != "" {
		log = log.With("node", name)
	}
	return log
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
