package allocator

import "time"

// A pool's budget of new visits is a token bucket kept in the state, so
// that every replica grants the same visits from the commands' own times,
// and a cluster of N nodes grants the budget once, not N times. It holds
// what was spent, not what is left: a spent budget refills at the pool's
// rate from the time of the last visit it granted, and a larger burst or
// rate applies at once.
//
// Amounts are in 1/60,000ths of a visit, so that a rate of r visits a
// minute refills exactly r a millisecond: no rounding, and replicas agree
// to the unit.

// visitCost is what one new visit spends: a minute in milliseconds.
const visitCost = int64(time.Minute / time.Millisecond)

// spentAt is how much of the budget is spent at time at: what the last
// granted visit left spent, less what has refilled since. A time before
// that visit's (another node's clock) refills nothing.
func (p *Pool) spentAt(st *Settings, at int64) int64 {
	spent, last := p.budgetSpent.Load(), p.budgetAt.Load()
	if elapsed := at - last; elapsed > 0 && spent > 0 {
		rate, _ := st.Budget()
		if elapsed >= spent { // the rate is at least 1: refilled in full
			return 0
		}
		spent = max(0, spent-elapsed*int64(rate))
	}
	return spent
}

func (p *Pool) withinBudget(st *Settings, at int64) bool {
	_, burst := st.Budget()
	return p.spentAt(st, at)+visitCost <= int64(burst)*visitCost
}

// spend takes one visit from the budget at time at. Apply path only.
func (p *Pool) spend(st *Settings, at int64) {
	p.budgetSpent.Store(p.spentAt(st, at) + visitCost)
	p.budgetAt.Store(max(p.budgetAt.Load(), at))
}

// WithinBudget reports whether the pool's budget of new visits
// (Settings.Budget) has room for one more at time at. It is the rule
// Assign keeps; the node that accepts a visit asks it first, so that a
// visit past the budget costs no log write.
func (p *Pool) WithinBudget(at time.Time) bool {
	return p.withinBudget(&p.view.Load().settings, millis(at))
}
