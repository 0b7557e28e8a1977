package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram counts latencies in log-linear buckets, as HdrHistogram does:
// below 128 µs one bucket per microsecond, above that 64 buckets per power
// of two, so any value it reports is within 1.6% of a value recorded.
// Recording takes no lock and allocates nothing; any goroutine may record.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64 // µs
	max    atomic.Uint64 // µs
}

const (
	histLinear  = 128 // values below this have a bucket each
	histHalf    = histLinear / 2
	histMaxBits = 42 // about 50 days in µs: far beyond any timeout
	histBuckets = histLinear + (histMaxBits-7)*histHalf
)

// bucketOf returns v's bucket.
func bucketOf(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	shift := bits.Len64(v) - 7
	if shift > histMaxBits-7 {
		return histBuckets - 1
	}
	return histLinear + (shift-1)*histHalf + int(v>>shift) - histHalf
}

// valueOf is the middle of bucket i, in µs.
func valueOf(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	shift := (i-histLinear)/histHalf + 1
	m := uint64((i-histLinear)%histHalf + histHalf)
	return m<<shift + (uint64(1)<<shift)/2
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[bucketOf(us)].Add(1)
	h.n.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			break
		}
	}
}

// Count is how many latencies were recorded.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Quantile returns the latency below which a share q (0..1) of the
// recorded ones fall, or 0 when none were recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	if q >= 1 {
		return h.Max()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(valueOf(i))*time.Microsecond, h.Max())
		}
	}
	return h.Max()
}

// Max is the largest latency recorded.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Mean is the average latency recorded.
func (h *Histogram) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load()/n) * time.Microsecond
}

// Merge adds every latency o recorded to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	for {
		m, om := h.max.Load(), o.max.Load()
		if om <= m || h.max.CompareAndSwap(m, om) {
			break
		}
	}
}
