package allocator

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// An op is one step of a property test's sequence (property_test.go): it is
// applied alike to the model and to States, and each State's result is
// compared with the model's.

type opKind uint8

const (
	opCreatePool opKind = iota
	opAddNumber
	opUpdatePool
	opDeletePool
	opMarkRelease
	opConfirmRelease
	opAssign
	opRefresh
	opTouch
	opExpire
	opMatchCall
	opRecordCall
	opUpdateCall
	numOpKinds
)

var opNames = [numOpKinds]string{
	"CreatePool", "AddNumber", "UpdatePool", "DeletePool", "MarkRelease", "ConfirmRelease",
	"Assign", "Refresh", "Touch", "Expire", "MatchCall", "RecordCall", "UpdateCall",
}

// op is one operation, as plain values, so it can be applied to the model
// and to any number of States.
type op struct {
	kind    opKind
	create  CreatePool
	add     AddNumber
	update  UpdatePool
	del     DeletePool
	release ReleaseNumber
	assign  Assign
	refresh Refresh
	ids     []VisitID
	number  string
	record  RecordCall
	call    UpdateCall
	at      time.Time // Touch, Expire, MatchCall
}

func (o *op) String() string {
	var arg any
	switch o.kind {
	case opCreatePool:
		c := o.create
		arg = fmt.Sprintf("id=%s key=%s size=%d overflow=%s tracking=%s allocation=%s idle=%v window=%v displace=%v budget=%d/%d at=%d",
			c.ID, c.Key, c.Settings.Size, c.Settings.Overflow, c.Settings.Tracking, c.Settings.Allocation,
			c.Settings.IdleTimeout, c.Settings.AttributionWindow, c.Settings.DisplaceAfter,
			c.Settings.VisitsPerMinute, c.Settings.VisitBurst, c.At.UnixMilli())
	case opAddNumber:
		arg = fmt.Sprintf("pool=%s e164=%s owned=%v at=%d", o.add.Pool, o.add.E164, o.add.Owned, o.add.At.UnixMilli())
	case opUpdatePool:
		pa := o.update.Patch
		var parts []string
		if pa.Size != nil {
			parts = append(parts, fmt.Sprintf("size=%d", *pa.Size))
		}
		if pa.IdleTimeout != nil {
			parts = append(parts, fmt.Sprintf("idle=%v", *pa.IdleTimeout))
		}
		if pa.Overflow != nil {
			parts = append(parts, fmt.Sprintf("overflow=%s", *pa.Overflow))
		}
		if pa.Tracking != nil {
			parts = append(parts, fmt.Sprintf("tracking=%s", *pa.Tracking))
		}
		if pa.AttributionWindow != nil {
			parts = append(parts, fmt.Sprintf("window=%v", *pa.AttributionWindow))
		}
		if pa.Allocation != nil {
			parts = append(parts, fmt.Sprintf("allocation=%s", *pa.Allocation))
		}
		if pa.DisplaceAfter != nil {
			parts = append(parts, fmt.Sprintf("displace=%v", *pa.DisplaceAfter))
		}
		if pa.VisitsPerMinute != nil {
			parts = append(parts, fmt.Sprintf("budget=%d/%d", *pa.VisitsPerMinute, *pa.VisitBurst))
		}
		arg = fmt.Sprintf("id=%s req=%x %s at=%d", o.update.ID, o.update.Req[:2], strings.Join(parts, " "), o.update.At.UnixMilli())
	case opDeletePool:
		arg = fmt.Sprintf("id=%s at=%d", o.del.ID, o.del.At.UnixMilli())
	case opMarkRelease, opConfirmRelease:
		arg = fmt.Sprintf("e164=%s at=%d", o.release.E164, o.release.At.UnixMilli())
	case opAssign:
		a := o.assign
		arg = fmt.Sprintf("visit=%x pool=%s gclid=%q at=%d unguarded=%v", a.Visit[:4], a.PoolKey, a.Attribution.GCLID, a.At.UnixMilli(), a.Unguarded)
	case opRefresh:
		arg = fmt.Sprintf("visit=%x req=%x at=%d", o.refresh.Visit[:4], o.refresh.Req[:4], o.refresh.At.UnixMilli())
	case opTouch:
		ids := make([]string, len(o.ids))
		for i, id := range o.ids {
			ids[i] = fmt.Sprintf("%x", id[:4])
		}
		arg = fmt.Sprintf("visits=%v at=%d", ids, o.at.UnixMilli())
	case opExpire:
		arg = fmt.Sprintf("at=%d", o.at.UnixMilli())
	case opMatchCall:
		arg = fmt.Sprintf("e164=%s at=%d", o.number, o.at.UnixMilli())
	case opRecordCall:
		arg = fmt.Sprintf("sid=%s to=%s from=%s at=%d", o.record.SID, o.record.To, o.record.From, o.record.At.UnixMilli())
	case opUpdateCall:
		arg = fmt.Sprintf("sid=%s status=%s at=%d", o.call.SID, o.call.Status, o.call.At.UnixMilli())
	}
	return fmt.Sprintf("%s(%v)", opNames[o.kind], arg)
}

// applyModel runs the operation on the model.
func (o *op) applyModel(m *model) result {
	switch o.kind {
	case opCreatePool:
		return m.createPool(o.create)
	case opAddNumber:
		return m.addNumber(o.add)
	case opUpdatePool:
		return m.updatePool(o.update)
	case opDeletePool:
		return m.deletePool(o.del)
	case opMarkRelease:
		return m.markRelease(o.release)
	case opConfirmRelease:
		return m.confirmRelease(o.release)
	case opAssign:
		return m.assign(o.assign)
	case opRefresh:
		return m.refresh(o.refresh)
	case opTouch:
		return m.touch(o.ids, o.at)
	case opExpire:
		return m.expire(o.at)
	case opMatchCall:
		return m.matchCall(o.number, o.at)
	case opRecordCall:
		return m.recordCall(o.record)
	case opUpdateCall:
		return m.updateCall(o.call)
	}
	panic("unknown op")
}

// applyState runs the operation on a real State.
func (o *op) applyState(s *State) result {
	switch o.kind {
	case opCreatePool:
		p, err := s.CreatePool(o.create)
		return poolResult(p, err)
	case opAddNumber:
		n, err := s.AddNumber(o.add)
		return stateNumberResult(n, err)
	case opUpdatePool:
		up, err := s.UpdatePool(o.update)
		r := poolResult(up.Pool, err)
		for _, n := range up.Retired {
			r.Retired = append(r.Retired, n.E164)
		}
		return r
	case opDeletePool:
		p, err := s.DeletePool(o.del)
		return poolResult(p, err)
	case opMarkRelease:
		n, err := s.MarkRelease(o.release)
		return stateNumberResult(n, err)
	case opConfirmRelease:
		n, err := s.ConfirmRelease(o.release)
		return stateNumberResult(n, err)
	case opAssign:
		a, err := s.Assign(o.assign)
		return assignmentResult(a, err)
	case opRefresh:
		a, err := s.Refresh(o.refresh)
		return assignmentResult(a, err)
	case opTouch:
		return result{Count: s.Touch(o.ids, o.at)}
	case opExpire:
		return result{Count: s.Expire(o.at)}
	case opMatchCall:
		m := s.MatchCall(o.number, o.at)
		r := stateNumberResult(m.Number, nil)
		r.Match, r.Visit, r.Also = m.Kind, visitSeq(m.Visit), visitSeq(m.Also)
		return r
	case opRecordCall:
		c, err := s.RecordCall(o.record)
		return stateCallResult(c, err)
	case opUpdateCall:
		c, err := s.UpdateCall(o.call)
		return stateCallResult(c, err)
	}
	panic("unknown op")
}

func poolResult(p *Pool, err error) result {
	r := result{RealErr: err}
	if p != nil {
		r.Pool, r.PoolSeq = p.ID, p.seq
	}
	return r
}

func stateNumberResult(n *Number, err error) result {
	r := result{RealErr: err}
	if n != nil {
		r.Number, r.NumberSeq, r.State = n.E164, n.seq, n.State()
	}
	return r
}

func assignmentResult(a Assignment, err error) result {
	r := stateNumberResult(a.Number, err)
	r.Outcome, r.Visit, r.Displaced = a.Outcome, visitSeq(a.Visit), visitSeq(a.Displaced)
	return r
}

func stateCallResult(c *Call, err error) result {
	r := result{RealErr: err}
	if c != nil {
		cp := *c
		r.Call = &cp
	}
	return r
}

func visitSeq(v *Visit) uint64 {
	if v == nil {
		return 0
	}
	return v.seq
}

// sameResult says how a State's result differs from the model's, if it does.
func sameResult(got, want result) error {
	if !sameErr(got.RealErr, want.Err) {
		return fmt.Errorf("error: got %v, model says %v", got.RealErr, want.Err)
	}
	same := got.Pool == want.Pool && got.PoolSeq == want.PoolSeq && got.Outcome == want.Outcome &&
		got.Visit == want.Visit && got.Number == want.Number && got.NumberSeq == want.NumberSeq &&
		got.State == want.State && got.Displaced == want.Displaced && slices.Equal(got.Retired, want.Retired) &&
		got.Count == want.Count && got.Match == want.Match && got.Also == want.Also &&
		(got.Call == nil) == (want.Call == nil)
	if same && got.Call != nil {
		same = sameCall(*got.Call, *want.Call)
	}
	if !same {
		return fmt.Errorf("result:\n  got   %s\n  model %s", formatResult(got), formatResult(want))
	}
	return nil
}

func sameErr(got error, want *mErr) bool {
	switch {
	case want == nil:
		return got == nil
	case want.is != nil:
		return errors.Is(got, want.is)
	}
	var ve *ValidationError
	return errors.As(got, &ve) && ve.Field == want.field
}

// sameCall compares two calls field by field and their attributions by value.
func sameCall(a, b Call) bool {
	aa, ba := a.Attribution, b.Attribution
	a.Attribution, b.Attribution = nil, nil
	return reflect.DeepEqual(a, b) && (aa == nil) == (ba == nil) && (aa == nil || *aa == *ba)
}

func formatResult(r result) string {
	s := fmt.Sprintf("%+v", r)
	if r.Call != nil {
		s += fmt.Sprintf(" call=%+v", *r.Call)
	}
	return s
}
