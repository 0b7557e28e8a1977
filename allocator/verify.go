package allocator

import "fmt"

// Verify checks the rules the state keeps: every number in service sits on
// one line of its pool, a line has at most one holder and that holder holds
// nothing else, the free list holds exactly the lines without a holder, and
// every live visit is either a holder or waiting for a number. It returns
// the first broken rule. Call it on the apply goroutine (tests do, after
// every batch, on every node).
func (s *State) Verify() error {
	live := 0
	var err error
	s.poolLog.each(func(p *Pool) bool {
		err = p.verify()
		live += int(p.held.Load() + p.numberless.Load())
		return err == nil
	})
	if err != nil {
		return err
	}
	if live != s.visits.len() {
		return fmt.Errorf("%d live visits in pools, %d in the index", live, s.visits.len())
	}
	return nil
}

func (p *Pool) verify() error {
	held, active := 0, 0
	for i := range p.numbers {
		line := int8(i)
		n, h, seen := p.numbers[i].Load(), p.holders[i].Load(), p.seen[i].Load()
		if n == nil {
			if h != nil || seen != noHolder || p.free.in[i] {
				return fmt.Errorf("pool %s: empty line %d has a holder or is free", p.ID, i)
			}
			continue
		}
		active++
		if n.line != line || n.Pool != p || n.State() != NumberActive {
			return fmt.Errorf("pool %s: number %s on line %d thinks it is elsewhere", p.ID, n.E164, i)
		}
		if h == nil {
			if !p.free.in[i] || seen != noHolder {
				return fmt.Errorf("pool %s: free line %d is not on the free list", p.ID, i)
			}
			continue
		}
		held++
		t := h.cur.Load()
		if h.line != line || h.Pool != p || !h.Live() || t == nil || t.Number != n || t.until.Load() != 0 ||
			p.free.in[i] || seen == noHolder || n.Holder() != h {
			return fmt.Errorf("pool %s: line %d's holder %s does not hold it alone", p.ID, i, h.ID)
		}
	}
	if active != int(p.active.Load()) || held != int(p.held.Load()) || int(p.free.n) != active-held {
		return fmt.Errorf("pool %s: counts disagree (active %d/%d, held %d/%d, free %d)",
			p.ID, active, p.active.Load(), held, p.held.Load(), p.free.n)
	}
	nl := 0
	for v := p.nlHead; v != nil; v = v.nlNext {
		if v.line != none || v.Pool != p || !v.Live() || v.cur.Load() != nil {
			return fmt.Errorf("pool %s: waiting visit %s holds a number or is gone", p.ID, v.ID)
		}
		nl++
	}
	if nl != int(p.numberless.Load()) {
		return fmt.Errorf("pool %s: %d visits waiting, counted %d", p.ID, nl, p.numberless.Load())
	}
	return nil
}
