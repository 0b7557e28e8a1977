package fsm

import (
	"errors"
	"fmt"

	"github.com/dni-dev/dni/allocator"
)

// A Receipt is a Result in plain values, so it can cross the network: what
// the node that accepted a write needs to answer its caller. It names what
// the write touched (a pool id, a visit id, a number, a call sid) rather
// than holding it; the caller reads those back from its own state once that
// has applied the write's log entry.
type Receipt struct {
	// Index is the log entry the write was applied at (every command of a
	// batch shares its entry): WaitApplied(Index) makes a node's own state
	// show the write.
	Index     uint64
	Err       error
	Outcome   allocator.Outcome // Assign, Refresh
	Visit     allocator.VisitID // Assign, Refresh
	Displaced allocator.VisitID // Assign
	Number    string            // Assign, Refresh, AddNumber, MarkRelease, ConfirmRelease
	Pool      string            // pool id: pool writes, AddNumber, Assign, Refresh
	Count     int               // Touch, Expire
	Retired   []string          // UpdatePool
	Call      string            // RecordCall, UpdateCall
}

// ReceiptOf turns the result of one command (not a batch) into a receipt.
func ReceiptOf(r Result) Receipt {
	if r.Err != nil {
		return Receipt{Err: r.Err}
	}
	var rc Receipt
	switch v := r.Value.(type) {
	case *allocator.Pool:
		rc.Pool = v.ID
	case allocator.Update:
		rc.Pool = v.Pool.ID
		for _, n := range v.Retired {
			rc.Retired = append(rc.Retired, n.E164)
		}
	case *allocator.Number:
		rc.Number, rc.Pool = v.E164, v.Pool.ID
	case allocator.Assignment:
		rc.Outcome = v.Outcome
		if v.Visit != nil {
			rc.Visit, rc.Pool = v.Visit.ID, v.Visit.Pool.ID
		}
		if v.Number != nil {
			rc.Number = v.Number.E164
		}
		if v.Displaced != nil {
			rc.Displaced = v.Displaced.ID
		}
	case int:
		rc.Count = v
	case *allocator.Call:
		rc.Call = v.SID
	}
	return rc
}

// ReceiptsOf turns the result of the command applied at a log index into
// one receipt per command: one for a single command, one per command for a
// batch.
func ReceiptsOf(index uint64, r Result) []Receipt {
	var out []Receipt
	if batch, ok := r.Value.([]Result); ok && r.Err == nil {
		out = make([]Receipt, len(batch))
		for i, sub := range batch {
			out[i] = ReceiptOf(sub)
		}
	} else {
		out = []Receipt{ReceiptOf(r)}
	}
	for i := range out {
		out[i].Index = index
	}
	return out
}

// errorCodes name the errors callers branch on, so that errors.Is still
// works on a receipt that crossed the network.
var errorCodes = map[string]error{
	"unknown_pool":     allocator.ErrUnknownPool,
	"pool_deleted":     allocator.ErrPoolDeleted,
	"pool_exists":      allocator.ErrPoolExists,
	"key_in_use":       allocator.ErrKeyInUse,
	"pool_full":        allocator.ErrPoolFull,
	"unknown_number":   allocator.ErrUnknownNumber,
	"number_in_use":    allocator.ErrNumberInUse,
	"unknown_visit":    allocator.ErrUnknownVisit,
	"visit_elsewhere":  allocator.ErrVisitElsewhere,
	"not_google_click": allocator.ErrNotGoogleClick,
	"bad_time":         allocator.ErrBadTime,
	"bad_call":         allocator.ErrBadCall,
	"unknown_call":     allocator.ErrUnknownCall,
	"bad_command":      ErrBadCommand,
	"skipped_command":  ErrSkippedCommand,
	"token_exists":     ErrTokenExists,
	"unknown_token":    ErrUnknownToken,
	"last_token":       ErrLastToken,
	"bad_token":        ErrBadToken,
}

const (
	codeInvalid = "invalid" // an *allocator.ValidationError
	codeOther   = "error"
)

func errorCode(err error) string {
	var ve *allocator.ValidationError
	if errors.As(err, &ve) {
		return codeInvalid
	}
	for code, sentinel := range errorCodes {
		if errors.Is(err, sentinel) {
			return code
		}
	}
	return codeOther
}

// remoteError is an error decoded from a receipt: its message as the
// leader wrote it, and the sentinel it wrapped there.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// EncodeReceipts writes the receipts of one log entry, which share its
// index.
func EncodeReceipts(rs []Receipt) []byte {
	var e encoder
	var index uint64
	if len(rs) > 0 {
		index = rs[0].Index
	}
	e.uvarint(index)
	e.uvarint(uint64(len(rs)))
	for i := range rs {
		e.receipt(&rs[i])
	}
	return e.buf
}

// DecodeReceipts reads what EncodeReceipts wrote.
func DecodeReceipts(b []byte) ([]Receipt, error) {
	d := decoder{buf: b}
	index := d.uvarint()
	rs := make([]Receipt, d.count(8))
	for i := range rs {
		rs[i].Index = index
		d.receipt(&rs[i])
	}
	d.end()
	if d.err != nil {
		return nil, fmt.Errorf("malformed receipts: %w", d.err)
	}
	return rs, nil
}

func (e *encoder) receipt(r *Receipt) {
	if r.Err == nil {
		e.string("")
	} else {
		code := errorCode(r.Err)
		e.string(code)
		var ve *allocator.ValidationError
		if code == codeInvalid && errors.As(r.Err, &ve) {
			e.string(ve.Field)
			e.string(ve.Reason)
		} else {
			e.string(r.Err.Error())
		}
	}
	e.byte(byte(r.Outcome))
	e.id(r.Visit)
	e.id(r.Displaced)
	e.string(r.Number)
	e.string(r.Pool)
	e.uvarint(uint64(r.Count))
	e.strings(r.Retired)
	e.string(r.Call)
}

func (d *decoder) receipt(r *Receipt) {
	switch code := d.string(); code {
	case "":
	case codeInvalid:
		r.Err = &allocator.ValidationError{Field: d.string(), Reason: d.string()}
	default:
		r.Err = &remoteError{msg: d.string(), sentinel: errorCodes[code]}
	}
	r.Outcome = allocator.Outcome(d.byte())
	r.Visit = d.id()
	r.Displaced = d.id()
	r.Number = d.string()
	r.Pool = d.string()
	r.Count = d.smallInt()
	r.Retired = d.strings()
	r.Call = d.string()
}
