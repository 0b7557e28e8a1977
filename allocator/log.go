package allocator

import "sync/atomic"

// appendLog is a list that one goroutine appends to and any goroutine reads
// without locks: a reader sees a prefix of the list, never a torn entry.
type appendLog[V any] struct {
	chunks atomic.Pointer[[]*logChunk[V]]
	n      atomic.Int64
}

const logChunkSize = 256

type logChunk[V any] [logChunkSize]atomic.Pointer[V]

// append adds v at the end. Writer only.
func (l *appendLog[V]) append(v *V) {
	n := l.n.Load()
	var chunks []*logChunk[V]
	if p := l.chunks.Load(); p != nil {
		chunks = *p
	}
	if int(n/logChunkSize) == len(chunks) {
		grown := make([]*logChunk[V], len(chunks)+1)
		copy(grown, chunks)
		grown[len(chunks)] = new(logChunk[V])
		l.chunks.Store(&grown)
		chunks = grown
	}
	chunks[n/logChunkSize][n%logChunkSize].Store(v)
	l.n.Store(n + 1)
}

// each calls fn for every entry in append order until fn returns false.
func (l *appendLog[V]) each(fn func(*V) bool) {
	n := l.n.Load()
	p := l.chunks.Load()
	for i := int64(0); i < n; i++ {
		if !fn((*p)[i/logChunkSize][i%logChunkSize].Load()) {
			return
		}
	}
}

// len is the number of entries appended so far.
func (l *appendLog[V]) len() int { return int(l.n.Load()) }

// eachBefore calls fn for entries before position end (at most the whole
// list), newest first, with their positions, until fn returns false.
func (l *appendLog[V]) eachBefore(end int, fn func(int, *V) bool) {
	n := l.n.Load()
	if int64(end) < n {
		n = int64(end)
	}
	p := l.chunks.Load()
	for i := n - 1; i >= 0; i-- {
		if !fn(int(i), (*p)[i/logChunkSize][i%logChunkSize].Load()) {
			return
		}
	}
}

// eachReverse is each, newest first.
func (l *appendLog[V]) eachReverse(fn func(*V) bool) {
	n := l.n.Load()
	p := l.chunks.Load()
	for i := n - 1; i >= 0; i-- {
		if !fn((*p)[i/logChunkSize][i%logChunkSize].Load()) {
			return
		}
	}
}
