package standin

// latest keeps values by SID, the latest size of them: adding one past
// the size forgets the oldest. Its owner locks around it.
type latest[T any] struct {
	bySID map[string]T
	ring  []string // SIDs in the order added, oldest at next once full
	next  int
}

func newLatest[T any](size int) latest[T] {
	return latest[T]{bySID: make(map[string]T), ring: make([]string, 0, size)}
}

func (l *latest[T]) add(sid string, v T) {
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, sid)
	} else {
		delete(l.bySID, l.ring[l.next])
		l.ring[l.next] = sid
		l.next = (l.next + 1) % len(l.ring)
	}
	l.bySID[sid] = v
}

func (l *latest[T]) get(sid string) (T, bool) {
	v, ok := l.bySID[sid]
	return v, ok
}

// remove forgets a value and reports whether there was one. Its SID stays
// in the ring until its turn comes, which costs nothing.
func (l *latest[T]) remove(sid string) bool {
	_, ok := l.bySID[sid]
	delete(l.bySID, sid)
	return ok
}
