package fsm

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/dni-dev/dni/allocator"
)

// usageLog is a pool of four crowded for two hours: a log whose state has
// usage worth keeping.
func usageLog() []Command {
	at := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	st := allocator.Settings{Name: "Ads", Size: 4, SwapTarget: "415-555-0100", ForwardTo: []string{"+14155550100"}}.WithDefaults()
	cmds := []Command{&CreatePool{ID: "p1", Key: "k1", Settings: st, At: at}, &CreatePool{ID: "p2", Key: "k2", Settings: st, At: at}}
	for i := range 4 {
		cmds = append(cmds, &AddNumber{Pool: "p1", E164: fmt.Sprintf("+1415555010%d", i), At: at})
	}
	for i := range 200 {
		t := at.Add(time.Duration(i) * 40 * time.Second)
		cmds = append(cmds, &Assign{Visit: allocator.VisitID{1, byte(i)}, PoolKey: "k1", At: t}, &Expire{At: t})
	}
	return cmds
}

// TestASnapshotCarriesEachPoolsUsage: a node restored from a snapshot
// reports the same usage and keeps it on alike, so its later snapshots are
// byte for byte the leader's.
func TestASnapshotCarriesEachPoolsUsage(t *testing.T) {
	cmds := usageLog()
	f := New(nil)
	f.ApplyBatch(logs(cmds, 1))
	snap := snapshotBytes(t, f)
	replica := restored(t, snap)
	if !bytes.Equal(snapshotBytes(t, replica), snap) {
		t.Fatal("a restored replica snapshots differently")
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	want := f.State().Pool("p1").Usage(now, allocator.UsageHistory)
	if want.Hours != 3 || want.Recycled == 0 {
		t.Fatalf("the log made usage %+v, want 3 hours with visitors sharing numbers", want)
	}
	if got := replica.State().Pool("p1").Usage(now, allocator.UsageHistory); got != want {
		t.Fatalf("restored usage\n %+v, want\n %+v", got, want)
	}
	more := logs([]Command{&Assign{Visit: allocator.VisitID{0xff}, PoolKey: "k1", At: now}, &Expire{At: now.Add(time.Hour)}}, uint64(len(cmds)+1))
	for _, m := range []*FSM{f, replica} {
		m.ApplyBatch(more)
	}
	if !bytes.Equal(snapshotBytes(t, replica), snapshotBytes(t, f)) {
		t.Fatal("the restored replica went on differently")
	}
}

// TestASnapshotWithoutUsageStillLoads: a snapshot written before pools kept
// their usage (no usage records) restores, and its pools start keeping it.
func TestASnapshotWithoutUsageStillLoads(t *testing.T) {
	f := New(nil)
	f.ApplyBatch(logs(usageLog(), 1))
	b, err := ReadBackup(bytes.NewReader(snapshotBytes(t, f)))
	if err != nil {
		t.Fatal(err)
	}
	img := b.Image
	for i := range img.State.Pools {
		img.State.Pools[i].Usage = nil
	}
	var old bytes.Buffer
	if err := WriteSnapshot(&old, img); err != nil {
		t.Fatal(err)
	}
	replica := restored(t, old.Bytes())
	p := replica.State().Pool("p1")
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	if u := p.Usage(at, allocator.UsageHistory); u.Hours != 0 {
		t.Fatalf("usage from nowhere: %+v", u)
	}
	replica.ApplyBatch(logs([]Command{&Assign{Visit: allocator.VisitID{0xfe}, PoolKey: "k1", At: at}}, 1000))
	if u := p.Usage(at, allocator.UsageHistory); u.Hours != 1 || u.PeakLive == 0 {
		t.Fatalf("after a visit: %+v, want an hour with its peak", u)
	}
}
