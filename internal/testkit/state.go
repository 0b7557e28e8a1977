package testkit

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// BusinessNumber is the number the tests' websites show, and the swap
// target of the pools PoolCommands makes.
const BusinessNumber = "(415) 555-0100"

// PoolCommands returns the commands that create pool id, with key
// "key-<id>" and size numbers of its own (no other pool of the test binary
// has them), and the key. Its visits stay live for an hour, however long
// the test runs.
func PoolCommands(id string, size int) (key string, cmds []fsm.Command) {
	st := allocator.Settings{
		Name: id, Size: size, SwapTarget: BusinessNumber, ForwardTo: []string{"+14155550100"},
		IdleTimeout: time.Hour,
	}.WithDefaults()
	key = "key-" + id
	cmds = append(cmds, &fsm.CreatePool{ID: id, Key: key, Settings: st, At: time.Now()})
	for range size {
		cmds = append(cmds, &fsm.AddNumber{Pool: id, E164: fmt.Sprintf("+1628%07d", numbersMade.Add(1)), At: time.Now()})
	}
	return key, cmds
}

// numbersMade makes every test number distinct.
var numbersMade atomic.Int64

// NewVisitID draws a visit id as a node does.
func NewVisitID() allocator.VisitID {
	var id allocator.VisitID
	rand.Read(id[:])
	return id
}

// ReadBackup reads a backup as a node restores one (fsm.ReadBackup: read,
// checked whole, every rule verified) and returns its state, failing the
// test if it cannot.
func ReadBackup(t testing.TB, b []byte) *allocator.State {
	t.Helper()
	backup, err := fsm.ReadBackup(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return backup.State
}

// Acked is every visit a cluster acknowledged, with the number it was
// given: what must survive whatever the test does to the cluster.
type Acked struct {
	mu     sync.Mutex
	visits map[allocator.VisitID]string
}

// Add records an acknowledged visit.
func (a *Acked) Add(id allocator.VisitID, number string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.visits == nil {
		a.visits = map[allocator.VisitID]string{}
	}
	a.visits[id] = number
}

// Len is how many visits were acknowledged.
func (a *Acked) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.visits)
}

// IDs lists the acknowledged visits, in no order.
func (a *Acked) IDs() []allocator.VisitID {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]allocator.VisitID, 0, len(a.visits))
	for id := range a.visits {
		out = append(out, id)
	}
	return out
}

// Check fails the test unless every acknowledged visit is live in s and
// holds the number it was given (tests that use it make fewer visits than
// their pools have numbers, so no visit is displaced).
func (a *Acked) Check(t testing.TB, s *allocator.State) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	lost := 0
	for id, number := range a.visits {
		v := s.Visit(id)
		switch {
		case v == nil:
			lost++
			t.Errorf("acknowledged visit %s is lost", id)
		case v.Number() == nil || v.Number().E164 != number:
			t.Errorf("acknowledged visit %s holds %v, was given %s", id, v.Number(), number)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged visits lost", lost, len(a.visits))
	}
}
