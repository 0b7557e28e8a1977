package allocator

// expiryHeap orders the pools that have live visits by the earliest time one
// of their visits may be due to expire. The time kept for a pool is a lower
// bound: heartbeats only push deadlines later, so they never need to update
// the heap, and Expire looks at a pool only when its bound has passed.
//
// Entries carry their own time, so sifting compares entries without reading
// the pools (each a likely cache miss). A pool rescheduled earlier, or
// unscheduled, leaves its old entry behind; such stale entries are dropped
// when they reach the top.
type expiryHeap []expiryEntry

type expiryEntry struct {
	due  int64
	seq  uint64 // the pool's, to break ties the same way on every replica
	pool *Pool
}

func (h expiryHeap) less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].seq < h[j].seq
}

func (h *expiryHeap) push(e expiryEntry) {
	*h = append(*h, e)
	for i := len(*h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		(*h)[i], (*h)[parent] = (*h)[parent], (*h)[i]
		i = parent
	}
}

func (h *expiryHeap) pop() expiryEntry {
	old := *h
	top := old[0]
	last := len(old) - 1
	old[0] = old[last]
	old[last] = expiryEntry{}
	*h = old[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= last {
			break
		}
		least := l
		if r := l + 1; r < last && h.less(r, l) {
			least = r
		}
		if !h.less(least, i) {
			break
		}
		(*h)[i], (*h)[least] = (*h)[least], (*h)[i]
		i = least
	}
	return top
}

// notScheduled marks a pool that has no entry in the heap that counts.
const notScheduled = -1

// schedule makes sure Expire looks at p no later than due.
func (s *State) schedule(p *Pool, due int64) {
	if p.expiryDue != notScheduled && p.expiryDue <= due {
		return
	}
	p.expiryDue = due
	s.expiry.push(expiryEntry{due: due, seq: p.seq, pool: p})
}

// unschedule makes p's entry in the heap stale.
func (s *State) unschedule(p *Pool) { p.expiryDue = notScheduled }

// nextDue pops stale entries and returns the pool due first and when, or
// nil if no pool is scheduled.
func (s *State) nextDue() (*Pool, int64) {
	for len(s.expiry) > 0 {
		e := s.expiry[0]
		if e.pool.expiryDue == e.due {
			return e.pool, e.due
		}
		s.expiry.pop()
	}
	return nil, 0
}
