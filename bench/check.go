package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/fsm"
)

// checkBackup takes a backup from the cluster and checks it is a whole
// state that keeps every rule: no number with two holders, free lists
// that agree with the holders, every live visit in its pool. Right after
// a fault the cluster may still be electing; it is asked again for a
// while, and only a backup that breaks a rule counts as broken.
func (r *run) checkBackup(ctx context.Context, errs *errorCounts) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		var b []byte
		if up := r.t.up(); len(up) > 0 {
			b, _, err = r.backup(ctx, up[0])
		} else {
			err = errNoNode
		}
		if err == nil {
			_, err = decodeState(b)
			r.noteBackup(err)
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			errs.add("fault: no backup to check after it: "+errKind(err), 0)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (r *run) noteBackup(err error) {
	r.imu.Lock()
	defer r.imu.Unlock()
	r.res.Invariants.Backups++
	if err != nil {
		r.res.Invariants.Broken = append(r.res.Invariants.Broken, err.Error())
	}
}

// backup downloads a backup of the state through n's admin API. It
// returns when the download ended, on the load's clock.
func (r *run) backup(ctx context.Context, n *node) ([]byte, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.addr+"/v1/cluster/snapshot", nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	req.Header.Set("Authorization", "Bearer "+r.t.token)
	resp, err := adminHTTP.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("backup from %s: %w", n.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("backup from %s: %w", n.name, err)
	}
	return b, time.Now(), nil
}

// errBroken marks a backup that is not a whole state keeping every rule.
var errBroken = errors.New("broken state")

// decodeState reads a backup into a state, checking it whole.
func decodeState(b []byte) (*allocator.State, error) {
	backup, err := fsm.ReadBackup(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBroken, err)
	}
	return backup.State, nil
}

// finalState waits for the cluster to be whole again and returns its state,
// once every node's backup is byte for byte the same (identical says
// whether they ever were). at is when the backups were taken.
func (r *run) finalState(ctx context.Context) (s *allocator.State, at time.Time, identical bool, err error) {
	if err := r.t.waitWhole(ctx, 2*time.Minute); err != nil {
		return nil, at, false, err
	}
	nodes := r.t.up()
	deadline := time.Now().Add(time.Minute)
	for tries := 0; ; tries++ {
		backups := make([][]byte, len(nodes))
		times := make([]time.Time, len(nodes))
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Go(func() { backups[i], times[i], errs[i] = r.backup(ctx, n) })
		}
		wg.Wait()
		err, identical = nil, true
		for i := range nodes {
			if errs[i] != nil {
				err = errs[i]
				continue
			}
			identical = identical && bytes.Equal(backups[i], backups[0])
			if times[i].After(at) {
				at = times[i]
			}
		}
		switch {
		case err != nil && time.Now().After(deadline):
			return nil, at, false, err
		case err != nil:
		case identical || tries >= 20:
			s, err = decodeState(backups[0])
			return s, at, identical && len(nodes) > 1, err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// check compares what the cluster holds at the end with what it
// acknowledged, and scores the calls.
func (r *run) check(ctx context.Context, l *loader) error {
	r.progressf("checking the cluster's state")
	inv := &r.res.Invariants
	var (
		s         *allocator.State
		at        time.Time
		identical bool
		err       error
	)
	// A call a node answered while the cluster was busy waits in its outbox
	// a moment: give the acknowledged ones time to arrive.
	deadline := time.Now().Add(time.Minute)
	for {
		s, at, identical, err = r.finalState(ctx)
		if errors.Is(err, errBroken) {
			r.noteBackup(err)
			return nil
		}
		if err != nil {
			return err
		}
		if missingCalls(s, l.truths) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	r.noteBackup(nil)
	inv.Identical = identical
	if !identical && len(r.t.nodes) > 1 {
		inv.Broken = append(inv.Broken, "the nodes' states differ")
	}

	// Visits acknowledged recently enough that they cannot have expired
	// must be live.
	end := at.Sub(l.start)
	live := r.o.IdleTimeout - r.o.Model.Heartbeat - 5*time.Second
	inv.AckedVisits = len(l.acked)
	for _, a := range l.acked {
		if end-a.lastAck < live {
			inv.Checked++
			if s.Visit(a.id) == nil {
				inv.Lost++
			}
		}
	}
	inv.GoneEarly = l.gone

	acc := make([]Accuracy, len(r.policies))
	for i, p := range r.policies {
		acc[i] = Accuracy{Policy: string(p.name), ByMatch: map[string]Tally{}, Untracked: l.untracked[i]}
	}
	for _, t := range l.truths {
		c := s.Call(t.sid)
		if t.voiceAcked {
			inv.AckedCalls++
			if c == nil || !c.Recorded {
				inv.LostCalls++
			}
		}
		if t.statusAcked && c != nil && !final(c.Status) {
			inv.LostStatuses++
		}
		if !t.inWindow {
			continue
		}
		acc[t.policy].score(t, c)
	}
	r.res.Accuracy = acc
	inv.OK = inv.Lost == 0 && inv.LostCalls == 0 && inv.LostStatuses == 0 && len(inv.Broken) == 0
	return nil
}

// score counts one call placed in the window: correct when dni matched it
// to the visit whose visitor made it. c is what dni recorded, nil if
// nothing.
func (a *Accuracy) score(t callTruth, c *allocator.Call) {
	if c == nil || !c.Recorded {
		a.Unrecorded++
		return
	}
	correct := c.Visit == t.visit
	a.Calls++
	if correct {
		a.Correct++
	} else if c.Also == t.visit {
		a.Also++
	}
	tally := a.ByMatch[string(c.Match)]
	tally.add(correct)
	a.ByMatch[string(c.Match)] = tally
	if t.late {
		a.Late.add(correct)
	} else {
		a.During.add(correct)
	}
	a.Share = float64(a.Correct) / float64(a.Calls)
}

// missingCalls counts the calls dni acknowledged that the state lacks.
func missingCalls(s *allocator.State, truths []callTruth) int {
	n := 0
	for _, t := range truths {
		if c := s.Call(t.sid); t.voiceAcked && (c == nil || !c.Recorded) || t.statusAcked && (c == nil || !final(c.Status)) {
			n++
		}
	}
	return n
}

func final(s allocator.CallStatus) bool {
	switch s {
	case allocator.CallCompleted, allocator.CallBusy, allocator.CallNoAnswer, allocator.CallFailed, allocator.CallCanceled:
		return true
	}
	return false
}
