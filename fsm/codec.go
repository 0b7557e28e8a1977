package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dni-dev/dni/allocator"
)

// encoder appends the compact binary forms commands and snapshot records use:
// unsigned and zigzag varints, length-prefixed strings, fixed 16-byte ids.
type encoder struct{ buf []byte }

func (e *encoder) uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) varint(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }
func (e *encoder) byte(b byte)      { e.buf = append(e.buf, b) }
func (e *encoder) id(b [16]byte)    { e.buf = append(e.buf, b[:]...) }

func (e *encoder) bool(b bool) {
	if b {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

func (e *encoder) string(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) strings(ss []string) {
	e.uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.string(s)
	}
}

func (e *encoder) time(t time.Time) { e.varint(t.UnixMilli()) }

func (e *encoder) duration(d time.Duration) { e.varint(int64(d / time.Millisecond)) }

// maxString bounds any one string in a command or snapshot; nothing dni
// stores comes close.
const maxString = 1 << 16

// errTruncated and friends describe why a decode failed.
var (
	errTruncated = errors.New("truncated")
	errOverflow  = errors.New("varint overflows 64 bits")
)

// decoder reads what encoder writes. The first error sticks: later reads
// return zero values, and the caller checks err once at the end. Lengths are
// checked against the bytes left before anything is allocated, so corrupt
// input can neither crash the decoder nor make it allocate much.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) uvarint() uint64 { return readVarint(d, binary.Uvarint) }
func (d *decoder) varint() int64   { return readVarint(d, binary.Varint) }

// readVarint reads one varint with read (binary.Uvarint or binary.Varint).
func readVarint[T uint64 | int64](d *decoder, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.buf)
	if n <= 0 {
		if n == 0 {
			d.fail(errTruncated)
		} else {
			d.fail(errOverflow)
		}
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.fail(errTruncated)
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *decoder) bool() bool {
	switch b := d.byte(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail(fmt.Errorf("bad boolean %d", b))
		return false
	}
}

func (d *decoder) id() (out [16]byte) {
	if d.err != nil {
		return out
	}
	if len(d.buf) < len(out) {
		d.fail(errTruncated)
		return out
	}
	copy(out[:], d.buf)
	d.buf = d.buf[len(out):]
	return out
}

// count reads a length for a list whose elements take at least minSize
// bytes each, refusing one the remaining input could not hold.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.buf)/minSize) {
		d.fail(fmt.Errorf("list of %d does not fit in %d bytes", n, len(d.buf)))
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxString {
		d.fail(fmt.Errorf("string of %d bytes is too long", n))
		return ""
	}
	if n > uint64(len(d.buf)) {
		d.fail(errTruncated)
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.string()
	}
	return out
}

func (d *decoder) time() time.Time { return time.UnixMilli(d.varint()).UTC() }

func (d *decoder) duration() time.Duration {
	ms := d.varint()
	if ms > int64(1<<62)/int64(time.Millisecond) || ms < -int64(1<<62)/int64(time.Millisecond) {
		d.fail(fmt.Errorf("duration of %d ms is out of range", ms))
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// end fails if input is left over: a command is exactly its bytes.
func (d *decoder) end() {
	if d.err == nil && len(d.buf) != 0 {
		d.fail(fmt.Errorf("%d bytes left over", len(d.buf)))
	}
}

func (e *encoder) attribution(a *allocator.Attribution) {
	for _, s := range attributionFields(a) {
		e.string(*s)
	}
}

func (d *decoder) attribution(a *allocator.Attribution) {
	for _, s := range attributionFields(a) {
		*s = d.string()
	}
}

func attributionFields(a *allocator.Attribution) [13]*string {
	return [13]*string{
		&a.Source, &a.Medium, &a.Campaign, &a.Term, &a.Content,
		&a.GCLID, &a.GBRAID, &a.WBRAID, &a.FBCLID, &a.MSCLKID,
		&a.Referrer, &a.LandingPage, &a.UserAgent,
	}
}

func (e *encoder) settings(s *allocator.Settings) {
	e.string(s.Name)
	e.string(string(s.Tracking))
	e.varint(int64(s.Size))
	e.string(s.AreaCode)
	e.string(s.SwapTarget)
	e.strings(s.ForwardTo)
	e.varint(int64(s.Rings))
	e.string(string(s.Overflow))
	e.duration(s.IdleTimeout)
	e.duration(s.AttributionWindow)
	e.bool(s.Whisper)
}

func (d *decoder) settings(s *allocator.Settings) {
	s.Name = d.string()
	s.Tracking = allocator.Tracking(d.string())
	s.Size = d.int()
	s.AreaCode = d.string()
	s.SwapTarget = d.string()
	s.ForwardTo = d.strings()
	s.Rings = d.int()
	s.Overflow = allocator.Overflow(d.string())
	s.IdleTimeout = d.duration()
	s.AttributionWindow = d.duration()
	s.Whisper = d.bool()
}

// laterSettings are the settings added after the format was first used, in
// the order they were added. They go at the very end of the command or
// snapshot record that carries the settings, so an entry written before
// some of them still decodes: a setting it lacks reads as what pools did
// before it existed (missing). A new setting goes at the end of the list.
var laterSettings = [...]struct {
	encode  func(*encoder, *allocator.Settings)
	decode  func(*decoder, *allocator.Settings)
	missing func(*allocator.Settings)
}{
	{ // allocation: every pool was LRU
		func(e *encoder, s *allocator.Settings) { e.string(string(s.Allocation)) },
		func(d *decoder, s *allocator.Settings) { s.Allocation = allocator.Allocation(d.string()) },
		func(s *allocator.Settings) { s.Allocation = allocator.DefaultAllocation },
	},
	{ // displace after: pools take the default protection
		func(e *encoder, s *allocator.Settings) { e.duration(s.DisplaceAfter) },
		func(d *decoder, s *allocator.Settings) { s.DisplaceAfter = d.duration() },
		func(s *allocator.Settings) { s.DisplaceAfter = allocator.DefaultDisplaceAfter },
	},
	{ // the budget of new visits: automatic
		func(e *encoder, s *allocator.Settings) {
			e.varint(int64(s.VisitsPerMinute))
			e.varint(int64(s.VisitBurst))
		},
		func(d *decoder, s *allocator.Settings) { s.VisitsPerMinute, s.VisitBurst = d.int(), d.int() },
		func(s *allocator.Settings) { s.VisitsPerMinute, s.VisitBurst = 0, 0 },
	},
	{ // allowed origins: any website
		func(e *encoder, s *allocator.Settings) { e.strings(s.AllowedOrigins) },
		func(d *decoder, s *allocator.Settings) { s.AllowedOrigins = d.strings() },
		func(s *allocator.Settings) { s.AllowedOrigins = nil },
	},
	{ // the conversion rule: on, a minute, no value
		func(e *encoder, s *allocator.Settings) {
			e.bool(s.LeadRule)
			e.duration(s.LeadMinDuration)
			e.varint(int64(s.LeadValue))
		},
		func(d *decoder, s *allocator.Settings) {
			s.LeadRule, s.LeadMinDuration, s.LeadValue = d.bool(), d.duration(), allocator.Money(d.varint())
		},
		func(s *allocator.Settings) {
			s.LeadRule, s.LeadMinDuration, s.LeadValue = true, allocator.DefaultLeadMinDuration, 0
		},
	},
	{ // the country: every pool was North American
		func(e *encoder, s *allocator.Settings) { e.string(s.Country) },
		func(d *decoder, s *allocator.Settings) { s.Country = d.string() },
		func(s *allocator.Settings) { s.Country = allocator.DefaultCountry },
	},
	{ // call answering and autoscaling: all off
		func(e *encoder, s *allocator.Settings) {
			e.voicemail(&s.Voicemail)
			e.hours(&s.Hours)
			e.callRecording(&s.Recording)
			e.autoscale(&s.Autoscale)
		},
		func(d *decoder, s *allocator.Settings) {
			d.voicemail(&s.Voicemail)
			d.hours(&s.Hours)
			d.callRecording(&s.Recording)
			d.autoscale(&s.Autoscale)
		},
		func(s *allocator.Settings) {
			s.Voicemail, s.Hours, s.Recording, s.Autoscale = allocator.Voicemail{}, allocator.Hours{}, allocator.CallRecording{}, allocator.Autoscale{}
		},
	},
}

func (e *encoder) voicemail(v *allocator.Voicemail) {
	e.bool(v.UseDefault)
	e.bool(v.On)
	e.string(v.Greeting)
	e.string(v.AudioURL)
	e.string(v.Voice)
	e.string(v.Language)
	e.duration(v.MaxLength)
	e.bool(v.Transcribe)
}

func (d *decoder) voicemail(v *allocator.Voicemail) {
	v.UseDefault, v.On, v.Greeting, v.AudioURL, v.Voice, v.Language = d.bool(), d.bool(), d.string(), d.string(), d.string(), d.string()
	v.MaxLength, v.Transcribe = d.duration(), d.bool()
}

func (e *encoder) hours(h *allocator.Hours) {
	e.bool(h.On)
	e.string(h.TimeZone)
	for _, day := range h.Week {
		e.uvarint(uint64(len(day)))
		for _, s := range day {
			e.varint(int64(s.From))
			e.varint(int64(s.To))
		}
	}
	e.strings(h.Holidays)
	e.string(h.AfterHoursForwardTo)
}

func (d *decoder) hours(h *allocator.Hours) {
	h.On, h.TimeZone = d.bool(), d.string()
	for i := range h.Week {
		n := d.count(2)
		var day []allocator.Span
		for range n {
			day = append(day, allocator.Span{From: d.int(), To: d.int()})
		}
		h.Week[i] = day
	}
	h.Holidays = d.strings()
	h.AfterHoursForwardTo = d.string()
}

func (e *encoder) callRecording(r *allocator.CallRecording) {
	e.bool(r.On)
	e.string(r.Notice)
	e.bool(r.NoNotice)
}

func (d *decoder) callRecording(r *allocator.CallRecording) {
	r.On, r.Notice, r.NoNotice = d.bool(), d.string(), d.bool()
}

func (e *encoder) autoscale(a *allocator.Autoscale) {
	e.varint(int64(a.MinSize))
	e.varint(int64(a.MaxSize))
}

func (d *decoder) autoscale(a *allocator.Autoscale) { a.MinSize, a.MaxSize = d.int(), d.int() }

func (e *encoder) laterSettings(s *allocator.Settings) {
	for _, l := range laterSettings {
		l.encode(e, s)
	}
}

func (d *decoder) laterSettings(s *allocator.Settings) {
	for _, l := range laterSettings {
		if d.more() {
			l.decode(d, s)
		} else {
			l.missing(s)
		}
	}
}

// more reports whether input is left to read: a record written before a
// later setting was added ends where that setting would start.
func (d *decoder) more() bool { return d.err == nil && len(d.buf) > 0 }

// int reads a signed setting that validation bounds later: any value a Go
// int holds on every platform (32 bits) comes back as it was written, so a
// bad value reaches validation and its clear message, not the decoder.
func (d *decoder) int() int {
	v := d.varint()
	if v > math.MaxInt32 || v < math.MinInt32 {
		d.fail(fmt.Errorf("%d is out of range", v))
		return 0
	}
	return int(v)
}

// smallInt reads a count that validation bounds anyway; it only has to fit.
func (d *decoder) smallInt() int {
	v := d.uvarint()
	if v > 1<<31 {
		d.fail(fmt.Errorf("%d is out of range", v))
		return 0
	}
	return int(v)
}
