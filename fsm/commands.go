package fsm

import (
	"errors"
	"fmt"
	"time"

	"github.com/dni-dev/dni/allocator"
)

// Each command is the allocator's request type under a name of its own, so
// the codec can hang methods on it. Result.Value holds, for each:
//
//	CreatePool, DeletePool,
//	SetNotice                     *allocator.Pool
//	UpdatePool, Resize            allocator.Update
//	AddNumber, MarkRelease,
//	ConfirmRelease                *allocator.Number
//	Assign, Refresh               allocator.Assignment
//	Touch, Expire                 int (visits touched, visits ended)
//	RecordCall, UpdateCall,
//	MarkCall, SaveRecording       *allocator.Call
//	SetMarketing                  allocator.Marketing
//	SetVoicemail                  allocator.Voicemail
//	SetSpend, DeleteSpend         int (days of spend written, forgotten)
//	SetEndpoint                   allocator.Endpoint
//	DeleteEndpoint                bool (it existed)
//	RecordAttempt                 allocator.AttemptResult ("" if not queued)
//	SetNode, RemoveNode,
//	CreateToken, DeleteToken,
//	EndSessions                   nil
//	Batch                         []Result, one per command
type (
	CreatePool     allocator.CreatePool
	UpdatePool     allocator.UpdatePool
	DeletePool     allocator.DeletePool
	AddNumber      allocator.AddNumber
	MarkRelease    allocator.ReleaseNumber
	ConfirmRelease allocator.ReleaseNumber
	Assign         allocator.Assign
	Refresh        allocator.Refresh
	RecordCall     allocator.RecordCall
	UpdateCall     allocator.UpdateCall
	SetNotice      allocator.SetNotice
	MarkCall       allocator.CallMark
	SetMarketing   allocator.SetMarketing
	SetSpend       allocator.SetSpend
	DeleteSpend    allocator.DeleteSpend
	SetEndpoint    allocator.SetEndpoint
	DeleteEndpoint allocator.DeleteEndpoint
	RecordAttempt  allocator.RecordAttempt
	SaveRecording  allocator.SaveRecording
	Resize         allocator.Resize
	SetVoicemail   allocator.SetDefaultVoicemail
)

// Touch records heartbeats for many visits at one time.
type Touch struct {
	Visits []allocator.VisitID
	At     time.Time
}

// Expire ends the visits idle past their pool's timeout at a time.
type Expire struct {
	At time.Time
}

// Batch carries many commands in one log entry: group commit. Batches do
// not nest.
type Batch struct {
	Commands []Command
}

func init() {
	register(TypeCreatePool, "create pool", decodeCreatePool, onState(func(s *allocator.State, c *CreatePool) Result {
		return result(s.CreatePool(allocator.CreatePool(*c)))
	}))
	register(TypeUpdatePool, "update pool", decodeUpdatePool, onState(func(s *allocator.State, c *UpdatePool) Result {
		return result(s.UpdatePool(allocator.UpdatePool(*c)))
	}))
	register(TypeDeletePool, "delete pool", decodeDeletePool, onState(func(s *allocator.State, c *DeletePool) Result {
		return result(s.DeletePool(allocator.DeletePool(*c)))
	}))
	register(TypeAddNumber, "add number", decodeAddNumber, onState(func(s *allocator.State, c *AddNumber) Result {
		return result(s.AddNumber(allocator.AddNumber(*c)))
	}))
	register(TypeMarkRelease, "mark release", decodeMarkRelease, onState(func(s *allocator.State, c *MarkRelease) Result {
		return result(s.MarkRelease(allocator.ReleaseNumber(*c)))
	}))
	register(TypeConfirmRelease, "confirm release", decodeConfirmRelease, onState(func(s *allocator.State, c *ConfirmRelease) Result {
		return result(s.ConfirmRelease(allocator.ReleaseNumber(*c)))
	}))
	register(TypeAssign, "assign", decodeAssign, onState(func(s *allocator.State, c *Assign) Result {
		return result(s.Assign(allocator.Assign(*c)))
	}))
	register(TypeRefresh, "refresh", decodeRefresh, onState(func(s *allocator.State, c *Refresh) Result {
		return result(s.Refresh(allocator.Refresh(*c)))
	}))
	register(TypeTouch, "touch", decodeTouch, onState(func(s *allocator.State, c *Touch) Result {
		return Result{Value: s.Touch(c.Visits, c.At)}
	}))
	register(TypeExpire, "expire", decodeExpire, onState(func(s *allocator.State, c *Expire) Result {
		return Result{Value: s.Expire(c.At)}
	}))
	register(TypeRecordCall, "record call", decodeRecordCall, onState(func(s *allocator.State, c *RecordCall) Result {
		return result(s.RecordCall(allocator.RecordCall(*c)))
	}))
	register(TypeUpdateCall, "update call", decodeUpdateCall, onState(func(s *allocator.State, c *UpdateCall) Result {
		return result(s.UpdateCall(allocator.UpdateCall(*c)))
	}))
	register(TypeSetNotice, "set notice", decodeSetNotice, onState(func(s *allocator.State, c *SetNotice) Result {
		return result(s.SetNotice(allocator.SetNotice(*c)))
	}))
	register(TypeMarkCall, "mark call", decodeMarkCall, onState(func(s *allocator.State, c *MarkCall) Result {
		return result(s.MarkCall(allocator.CallMark(*c)))
	}))
	register(TypeSetMarketing, "set marketing", decodeSetMarketing, onState(func(s *allocator.State, c *SetMarketing) Result {
		return result(s.SetMarketing(allocator.SetMarketing(*c)))
	}))
	register(TypeSetSpend, "set spend", decodeSetSpend, onState(func(s *allocator.State, c *SetSpend) Result {
		return result(s.SetSpend(allocator.SetSpend(*c)))
	}))
	register(TypeDeleteSpend, "delete spend", decodeDeleteSpend, onState(func(s *allocator.State, c *DeleteSpend) Result {
		return result(s.DeleteSpend(allocator.DeleteSpend(*c)))
	}))
	register(TypeSetEndpoint, "set endpoint", decodeSetEndpoint, onState(func(s *allocator.State, c *SetEndpoint) Result {
		return result(s.SetEndpoint(allocator.SetEndpoint(*c)))
	}))
	register(TypeDeleteEndpoint, "delete endpoint", decodeDeleteEndpoint, onState(func(s *allocator.State, c *DeleteEndpoint) Result {
		return result(s.DeleteEndpoint(allocator.DeleteEndpoint(*c)))
	}))
	register(TypeRecordAttempt, "record attempt", decodeRecordAttempt, onState(func(s *allocator.State, c *RecordAttempt) Result {
		return result(s.RecordAttempt(allocator.RecordAttempt(*c)))
	}))
	register(TypeSaveRecording, "save recording", decodeSaveRecording, onState(func(s *allocator.State, c *SaveRecording) Result {
		return result(s.SaveRecording(allocator.SaveRecording(*c)))
	}))
	register(TypeResize, "resize", decodeResize, onState(func(s *allocator.State, c *Resize) Result {
		return result(s.Resize(allocator.Resize(*c)))
	}))
	register(TypeSetVoicemail, "set voicemail", decodeSetVoicemail, onState(func(s *allocator.State, c *SetVoicemail) Result {
		return result(s.SetDefaultVoicemail(allocator.SetDefaultVoicemail(*c)))
	}))
	register(TypeBatch, "batch", decodeBatch, applyBatch)
	register(TypeSetNode, "set node", decodeSetNode, applySetNode)
	register(TypeRemoveNode, "remove node", decodeRemoveNode, applyRemoveNode)
	register(TypeCreateToken, "create token", decodeCreateToken, applyCreateToken)
	register(TypeDeleteToken, "delete token", decodeDeleteToken, applyDeleteToken)
	register(TypeEndSessions, "end sessions", decodeEndSessions, applyEndSessions)
}

func (*CreatePool) Type() Type { return TypeCreatePool }

func (c *CreatePool) encode(e *encoder) {
	e.string(c.ID)
	e.string(c.Key)
	e.settings(&c.Settings)
	e.time(c.At)
	e.laterSettings(&c.Settings)
}

func decodeCreatePool(d *decoder) *CreatePool {
	c := new(CreatePool)
	c.ID = d.string()
	c.Key = d.string()
	d.settings(&c.Settings)
	c.At = d.time()
	d.laterSettings(&c.Settings)
	return c
}

func (*UpdatePool) Type() Type { return TypeUpdatePool }

// Patch fields present, as bits of a mask written before them.
const (
	patchName = 1 << iota
	patchTracking
	patchSize
	patchAreaCode
	patchSwapTarget
	patchForwardTo
	patchRings
	patchOverflow
	patchIdleTimeout
	patchAttributionWindow
	patchWhisper
	patchAllocation
	patchDisplaceAfter
	patchVisitsPerMinute
	patchVisitBurst
	patchAllowedOrigins
	patchLeadRule
	patchLeadMinDuration
	patchLeadValue
	patchCountry
	patchVoicemail
	patchHours
	patchRecording
	patchAutoscale
	patchAll = patchAutoscale<<1 - 1
)

func (c *UpdatePool) encode(e *encoder) {
	e.string(c.ID)
	e.id(c.Req)
	p := &c.Patch
	var mask uint64
	for _, f := range [...]struct {
		bit uint64
		set bool
	}{
		{patchName, p.Name != nil}, {patchTracking, p.Tracking != nil}, {patchSize, p.Size != nil},
		{patchAreaCode, p.AreaCode != nil}, {patchSwapTarget, p.SwapTarget != nil},
		{patchForwardTo, p.ForwardTo != nil}, {patchRings, p.Rings != nil}, {patchOverflow, p.Overflow != nil},
		{patchIdleTimeout, p.IdleTimeout != nil}, {patchAttributionWindow, p.AttributionWindow != nil},
		{patchWhisper, p.Whisper != nil}, {patchAllocation, p.Allocation != nil},
		{patchDisplaceAfter, p.DisplaceAfter != nil}, {patchVisitsPerMinute, p.VisitsPerMinute != nil},
		{patchVisitBurst, p.VisitBurst != nil}, {patchAllowedOrigins, p.AllowedOrigins != nil},
		{patchLeadRule, p.LeadRule != nil}, {patchLeadMinDuration, p.LeadMinDuration != nil},
		{patchLeadValue, p.LeadValue != nil}, {patchCountry, p.Country != nil},
		{patchVoicemail, p.Voicemail != nil}, {patchHours, p.Hours != nil},
		{patchRecording, p.Recording != nil}, {patchAutoscale, p.Autoscale != nil},
	} {
		if f.set {
			mask |= f.bit
		}
	}
	e.uvarint(mask)
	if p.Name != nil {
		e.string(*p.Name)
	}
	if p.Tracking != nil {
		e.string(string(*p.Tracking))
	}
	if p.Size != nil {
		e.varint(int64(*p.Size))
	}
	if p.AreaCode != nil {
		e.string(*p.AreaCode)
	}
	if p.SwapTarget != nil {
		e.string(*p.SwapTarget)
	}
	if p.ForwardTo != nil {
		e.strings(p.ForwardTo)
	}
	if p.Rings != nil {
		e.varint(int64(*p.Rings))
	}
	if p.Overflow != nil {
		e.string(string(*p.Overflow))
	}
	if p.IdleTimeout != nil {
		e.duration(*p.IdleTimeout)
	}
	if p.AttributionWindow != nil {
		e.duration(*p.AttributionWindow)
	}
	if p.Whisper != nil {
		e.bool(*p.Whisper)
	}
	if p.Allocation != nil {
		e.string(string(*p.Allocation))
	}
	if p.DisplaceAfter != nil {
		e.duration(*p.DisplaceAfter)
	}
	if p.VisitsPerMinute != nil {
		e.varint(int64(*p.VisitsPerMinute))
	}
	if p.VisitBurst != nil {
		e.varint(int64(*p.VisitBurst))
	}
	if p.AllowedOrigins != nil {
		e.strings(p.AllowedOrigins)
	}
	if p.LeadRule != nil {
		e.bool(*p.LeadRule)
	}
	if p.LeadMinDuration != nil {
		e.duration(*p.LeadMinDuration)
	}
	if p.LeadValue != nil {
		e.varint(int64(*p.LeadValue))
	}
	if p.Country != nil {
		e.string(*p.Country)
	}
	if p.Voicemail != nil {
		e.voicemail(p.Voicemail)
	}
	if p.Hours != nil {
		e.hours(p.Hours)
	}
	if p.Recording != nil {
		e.callRecording(p.Recording)
	}
	if p.Autoscale != nil {
		e.autoscale(p.Autoscale)
	}
	e.time(c.At)
}

func decodeUpdatePool(d *decoder) *UpdatePool {
	c := new(UpdatePool)
	c.ID = d.string()
	c.Req = d.id()
	mask := d.uvarint()
	if mask&^patchAll != 0 {
		d.fail(fmt.Errorf("unknown patch fields %#x", mask&^patchAll))
	}
	p := &c.Patch
	if mask&patchName != 0 {
		p.Name = ptr(d.string())
	}
	if mask&patchTracking != 0 {
		p.Tracking = ptr(allocator.Tracking(d.string()))
	}
	if mask&patchSize != 0 {
		p.Size = ptr(d.int())
	}
	if mask&patchAreaCode != 0 {
		p.AreaCode = ptr(d.string())
	}
	if mask&patchSwapTarget != 0 {
		p.SwapTarget = ptr(d.string())
	}
	if mask&patchForwardTo != 0 {
		// A present but empty list stays non-nil, so validation sees it.
		p.ForwardTo = append([]string{}, d.strings()...)
	}
	if mask&patchRings != 0 {
		p.Rings = ptr(d.int())
	}
	if mask&patchOverflow != 0 {
		p.Overflow = ptr(allocator.Overflow(d.string()))
	}
	if mask&patchIdleTimeout != 0 {
		p.IdleTimeout = ptr(d.duration())
	}
	if mask&patchAttributionWindow != 0 {
		p.AttributionWindow = ptr(d.duration())
	}
	if mask&patchWhisper != 0 {
		p.Whisper = ptr(d.bool())
	}
	if mask&patchAllocation != 0 {
		p.Allocation = ptr(allocator.Allocation(d.string()))
	}
	if mask&patchDisplaceAfter != 0 {
		p.DisplaceAfter = ptr(d.duration())
	}
	if mask&patchVisitsPerMinute != 0 {
		p.VisitsPerMinute = ptr(d.int())
	}
	if mask&patchVisitBurst != 0 {
		p.VisitBurst = ptr(d.int())
	}
	if mask&patchAllowedOrigins != 0 {
		// A present but empty list stays non-nil: it clears the pool's.
		p.AllowedOrigins = append([]string{}, d.strings()...)
	}
	if mask&patchLeadRule != 0 {
		p.LeadRule = ptr(d.bool())
	}
	if mask&patchLeadMinDuration != 0 {
		p.LeadMinDuration = ptr(d.duration())
	}
	if mask&patchLeadValue != 0 {
		p.LeadValue = ptr(allocator.Money(d.varint()))
	}
	if mask&patchCountry != 0 {
		p.Country = ptr(d.string())
	}
	if mask&patchVoicemail != 0 {
		p.Voicemail = new(allocator.Voicemail)
		d.voicemail(p.Voicemail)
	}
	if mask&patchHours != 0 {
		p.Hours = new(allocator.Hours)
		d.hours(p.Hours)
	}
	if mask&patchRecording != 0 {
		p.Recording = new(allocator.CallRecording)
		d.callRecording(p.Recording)
	}
	if mask&patchAutoscale != 0 {
		p.Autoscale = new(allocator.Autoscale)
		d.autoscale(p.Autoscale)
	}
	c.At = d.time()
	return c
}

func ptr[T any](v T) *T { return &v }

func (*DeletePool) Type() Type { return TypeDeletePool }

func (c *DeletePool) encode(e *encoder) {
	e.string(c.ID)
	e.time(c.At)
}

func decodeDeletePool(d *decoder) *DeletePool {
	return &DeletePool{ID: d.string(), At: d.time()}
}

func (*AddNumber) Type() Type { return TypeAddNumber }

func (c *AddNumber) encode(e *encoder) {
	e.string(c.Pool)
	e.string(c.E164)
	e.string(c.ProviderID)
	e.bool(c.Owned)
	e.time(c.At)
}

func decodeAddNumber(d *decoder) *AddNumber {
	return &AddNumber{Pool: d.string(), E164: d.string(), ProviderID: d.string(), Owned: d.bool(), At: d.time()}
}

func (*MarkRelease) Type() Type { return TypeMarkRelease }

func (c *MarkRelease) encode(e *encoder) {
	e.string(c.E164)
	e.time(c.At)
}

func decodeMarkRelease(d *decoder) *MarkRelease {
	return &MarkRelease{E164: d.string(), At: d.time()}
}

func (*ConfirmRelease) Type() Type { return TypeConfirmRelease }

func (c *ConfirmRelease) encode(e *encoder) {
	e.string(c.E164)
	e.time(c.At)
}

func decodeConfirmRelease(d *decoder) *ConfirmRelease {
	return &ConfirmRelease{E164: d.string(), At: d.time()}
}

func (*Assign) Type() Type { return TypeAssign }

// assignGuarded ends an Assign written since the guards against scripts
// exist (allocator.Assign.Unguarded); one written before ends at its time.
const assignGuarded = 1

func (c *Assign) encode(e *encoder) {
	e.id(c.Visit)
	e.string(c.PoolKey)
	e.attribution(&c.Attribution)
	e.time(c.At)
	if !c.Unguarded {
		e.byte(assignGuarded)
	}
}

func decodeAssign(d *decoder) *Assign {
	c := new(Assign)
	c.Visit = d.id()
	c.PoolKey = d.string()
	d.attribution(&c.Attribution)
	c.At = d.time()
	c.Unguarded = !d.more()
	if !c.Unguarded {
		if b := d.byte(); b != assignGuarded {
			d.fail(fmt.Errorf("unknown rules %d", b))
		}
	}
	return c
}

func (*Refresh) Type() Type { return TypeRefresh }

func (c *Refresh) encode(e *encoder) {
	e.id(c.Visit)
	e.id(c.Req)
	e.time(c.At)
}

func decodeRefresh(d *decoder) *Refresh {
	return &Refresh{Visit: d.id(), Req: d.id(), At: d.time()}
}

func (*Touch) Type() Type { return TypeTouch }

func (c *Touch) encode(e *encoder) {
	e.uvarint(uint64(len(c.Visits)))
	for _, v := range c.Visits {
		e.id(v)
	}
	e.time(c.At)
}

func decodeTouch(d *decoder) *Touch {
	c := &Touch{Visits: make([]allocator.VisitID, d.count(16))}
	for i := range c.Visits {
		c.Visits[i] = d.id()
	}
	c.At = d.time()
	return c
}

func (*Expire) Type() Type { return TypeExpire }

func (c *Expire) encode(e *encoder) { e.time(c.At) }

func decodeExpire(d *decoder) *Expire { return &Expire{At: d.time()} }

func (*RecordCall) Type() Type { return TypeRecordCall }

func (c *RecordCall) encode(e *encoder) {
	e.string(c.SID)
	e.string(c.To)
	e.string(c.From)
	e.time(c.At)
}

func decodeRecordCall(d *decoder) *RecordCall {
	return &RecordCall{SID: d.string(), To: d.string(), From: d.string(), At: d.time()}
}

func (*UpdateCall) Type() Type { return TypeUpdateCall }

func (c *UpdateCall) encode(e *encoder) {
	e.string(c.SID)
	e.string(string(c.Status))
	e.duration(c.Duration)
	e.string(c.AnsweredBy)
	e.time(c.At)
}

func decodeUpdateCall(d *decoder) *UpdateCall {
	return &UpdateCall{
		SID: d.string(), Status: allocator.CallStatus(d.string()), Duration: d.duration(),
		AnsweredBy: d.string(), At: d.time(),
	}
}

func (*SetNotice) Type() Type { return TypeSetNotice }

func (c *SetNotice) encode(e *encoder) {
	e.string(c.Pool)
	e.string(c.Notice)
}

func decodeSetNotice(d *decoder) *SetNotice {
	return &SetNotice{Pool: d.string(), Notice: d.string()}
}

func (*Batch) Type() Type { return TypeBatch }

func (c *Batch) encode(e *encoder) {
	e.uvarint(uint64(len(c.Commands)))
	for _, sub := range c.Commands {
		if sub.Type() == TypeBatch {
			panic("fsm: batches do not nest")
		}
		body := Encode(sub)
		e.uvarint(uint64(len(body)))
		e.buf = append(e.buf, body...)
	}
}

func decodeBatch(d *decoder) *Batch {
	c := &Batch{Commands: make([]Command, d.count(2))}
	for i := range c.Commands {
		n := d.uvarint()
		if d.err != nil {
			return c
		}
		if n > uint64(len(d.buf)) {
			d.fail(errTruncated)
			return c
		}
		body := d.buf[:n]
		d.buf = d.buf[n:]
		if len(body) > 0 && Type(body[0])&^IgnoreUnknown == TypeBatch {
			d.fail(fmt.Errorf("batches do not nest"))
			return c
		}
		sub, err := Decode(body)
		if errors.Is(err, ErrSkippedCommand) {
			c.Commands[i] = skipped{Type(body[0])}
			continue
		}
		if err != nil {
			d.fail(fmt.Errorf("command %d: %w", i, err))
			return c
		}
		c.Commands[i] = sub
	}
	return c
}

// skipped stands in a decoded batch for an unknown command marked
// IgnoreUnknown. It is never encoded.
type skipped struct{ t Type }

func (s skipped) Type() Type    { return s.t }
func (skipped) encode(*encoder) { panic("fsm: a skipped command cannot be encoded") }

func applyBatch(m *machine, c *Batch) Result {
	out := make([]Result, len(c.Commands))
	for i, sub := range c.Commands {
		out[i] = apply(m, sub)
	}
	return Result{Value: out}
}

func (*MarkCall) Type() Type { return TypeMarkCall }

func (c *MarkCall) encode(e *encoder) {
	e.string(c.SID)
	e.byte(byte(c.Set))
	e.string(string(c.Outcome))
	e.varint(int64(c.Value))
	e.string(c.Currency)
	e.string(c.Note)
	e.time(c.At)
}

func decodeMarkCall(d *decoder) *MarkCall {
	return &MarkCall{
		SID: d.string(), Set: allocator.MarkFields(d.byte()), Outcome: allocator.CallOutcome(d.string()),
		Value: allocator.Money(d.varint()), Currency: d.string(), Note: d.string(), At: d.time(),
	}
}

func (*SetMarketing) Type() Type { return TypeSetMarketing }

func (c *SetMarketing) encode(e *encoder) {
	e.marketing(&c.Marketing)
	e.time(c.At)
}

func decodeSetMarketing(d *decoder) *SetMarketing {
	c := new(SetMarketing)
	d.marketing(&c.Marketing)
	c.At = d.time()
	return c
}

func (e *encoder) marketing(m *allocator.Marketing) {
	e.string(m.Currency)
	e.string(m.GoogleConversion)
	e.string(m.MicrosoftConversion)
}

func (d *decoder) marketing(m *allocator.Marketing) {
	m.Currency, m.GoogleConversion, m.MicrosoftConversion = d.string(), d.string(), d.string()
}

func (*SetSpend) Type() Type { return TypeSetSpend }

func (c *SetSpend) encode(e *encoder) {
	e.uvarint(uint64(len(c.Rows)))
	for i := range c.Rows {
		e.spend(&c.Rows[i])
	}
	e.time(c.At)
}

func decodeSetSpend(d *decoder) *SetSpend {
	c := &SetSpend{Rows: make([]allocator.Spend, d.count(5))}
	for i := range c.Rows {
		d.spend(&c.Rows[i])
	}
	c.At = d.time()
	return c
}

func (*DeleteSpend) Type() Type { return TypeDeleteSpend }

func (c *DeleteSpend) encode(e *encoder) {
	e.uvarint(uint64(len(c.Keys)))
	for i := range c.Keys {
		e.spendKey(&c.Keys[i])
	}
	e.time(c.At)
}

func decodeDeleteSpend(d *decoder) *DeleteSpend {
	c := &DeleteSpend{Keys: make([]allocator.SpendKey, d.count(4))}
	for i := range c.Keys {
		d.spendKey(&c.Keys[i])
	}
	c.At = d.time()
	return c
}

func (e *encoder) spendKey(k *allocator.SpendKey) {
	e.varint(int64(k.Day))
	e.string(k.Source)
	e.string(k.Medium)
	e.string(k.Campaign)
}

func (d *decoder) spendKey(k *allocator.SpendKey) {
	k.Day = allocator.Day(d.int())
	k.Source, k.Medium, k.Campaign = d.string(), d.string(), d.string()
}

func (e *encoder) spend(s *allocator.Spend) {
	e.spendKey(&s.SpendKey)
	e.varint(int64(s.Cost))
}

func (d *decoder) spend(s *allocator.Spend) {
	d.spendKey(&s.SpendKey)
	s.Cost = allocator.Money(d.varint())
}

// worth writes what a call was worth. Times are 0 for never, so that a
// zero time comes back zero.
func (e *encoder) worth(w *allocator.Worth) {
	e.string(string(w.Outcome))
	e.varint(int64(w.Value))
	e.string(w.Currency)
	e.string(w.Note)
	e.bool(w.ByHand)
	e.maybeTime(w.OutcomeAt)
	e.maybeTime(w.Conversion.At)
	e.varint(int64(w.Conversion.Value))
}

func (d *decoder) worth(w *allocator.Worth) {
	w.Outcome = allocator.CallOutcome(d.string())
	w.Value = allocator.Money(d.varint())
	w.Currency = d.string()
	w.Note = d.string()
	w.ByHand = d.bool()
	w.OutcomeAt = d.maybeTime()
	w.Conversion.At = d.maybeTime()
	w.Conversion.Value = allocator.Money(d.varint())
}

func (e *encoder) maybeTime(t time.Time) {
	if t.IsZero() {
		e.varint(0)
		return
	}
	e.time(t)
}

func (d *decoder) maybeTime() time.Time {
	if ms := d.varint(); ms != 0 {
		return time.UnixMilli(ms).UTC()
	}
	return time.Time{}
}

func (*SetEndpoint) Type() Type { return TypeSetEndpoint }

func (c *SetEndpoint) encode(e *encoder) {
	e.string(c.ID)
	e.string(c.Name)
	e.string(c.URL)
	e.string(c.Secret)
	e.bool(c.Enabled)
	e.time(c.At)
}

func decodeSetEndpoint(d *decoder) *SetEndpoint {
	return &SetEndpoint{ID: d.string(), Name: d.string(), URL: d.string(), Secret: d.string(), Enabled: d.bool(), At: d.time()}
}

func (*DeleteEndpoint) Type() Type { return TypeDeleteEndpoint }

func (c *DeleteEndpoint) encode(e *encoder) {
	e.string(c.ID)
	e.time(c.At)
}

func decodeDeleteEndpoint(d *decoder) *DeleteEndpoint {
	return &DeleteEndpoint{ID: d.string(), At: d.time()}
}

func (*RecordAttempt) Type() Type { return TypeRecordAttempt }

func (c *RecordAttempt) encode(e *encoder) {
	e.uvarint(c.Event)
	e.string(c.Endpoint)
	e.time(c.At)
	e.varint(int64(c.Status))
	e.string(c.Error)
	e.bool(c.Delivered)
	e.maybeTime(c.NextAt)
}

func decodeRecordAttempt(d *decoder) *RecordAttempt {
	return &RecordAttempt{Event: d.uvarint(), Endpoint: d.string(), At: d.time(), Status: d.int(), Error: d.string(),
		Delivered: d.bool(), NextAt: d.maybeTime()}
}

func (e *encoder) endpoint(p *allocator.Endpoint) {
	e.string(p.ID)
	e.string(p.Name)
	e.string(p.URL)
	e.string(p.Secret)
	e.bool(p.Enabled)
	e.time(p.CreatedAt)
	e.time(p.UpdatedAt)
	e.uvarint(uint64(len(p.Log)))
	for i := range p.Log {
		a := &p.Log[i]
		e.string(a.Event)
		e.string(string(a.Kind))
		e.string(a.Call)
		e.varint(int64(a.Try))
		e.time(a.At)
		e.varint(int64(a.Status))
		e.string(a.Error)
		e.string(string(a.Result))
		e.maybeTime(a.NextAt)
	}
}

func (d *decoder) endpoint(p *allocator.Endpoint) {
	p.ID, p.Name, p.URL, p.Secret = d.string(), d.string(), d.string(), d.string()
	p.Enabled = d.bool()
	p.CreatedAt, p.UpdatedAt = d.time(), d.time()
	if n := d.count(8); n > 0 {
		p.Log = make([]allocator.Attempt, n)
	}
	for i := range p.Log {
		a := &p.Log[i]
		a.Event, a.Kind, a.Call = d.string(), allocator.EventKind(d.string()), d.string()
		a.Try = d.int()
		a.At = d.time()
		a.Status = d.int()
		a.Error, a.Result = d.string(), allocator.AttemptResult(d.string())
		a.NextAt = d.maybeTime()
	}
}

func (e *encoder) delivery(r *allocator.DeliveryRecord) {
	e.uvarint(r.Event.Seq)
	e.string(string(r.Event.Kind))
	e.string(r.Event.Call)
	e.time(r.Event.At)
	e.string(r.Endpoint)
	e.varint(int64(r.Attempts))
	e.varint(r.NextAt)
}

func (d *decoder) delivery(r *allocator.DeliveryRecord) {
	r.Event.Seq, r.Event.Kind, r.Event.Call = d.uvarint(), allocator.EventKind(d.string()), d.string()
	r.Event.At = d.time()
	r.Endpoint = d.string()
	r.Attempts = d.int()
	r.NextAt = d.varint()
}

func (*SaveRecording) Type() Type { return TypeSaveRecording }

func (c *SaveRecording) encode(e *encoder) {
	e.string(c.Call)
	e.recording(&c.Recording)
	e.time(c.At)
}

func decodeSaveRecording(d *decoder) *SaveRecording {
	c := &SaveRecording{Call: d.string()}
	d.recording(&c.Recording)
	c.At = d.time()
	return c
}

func (e *encoder) recording(r *allocator.Recording) {
	e.string(r.SID)
	e.string(string(r.Kind))
	e.string(string(r.Status))
	e.duration(r.Duration)
	e.string(r.Transcript)
	e.string(r.TranscriptStatus)
	e.time(r.At)
}

func (d *decoder) recording(r *allocator.Recording) {
	r.SID, r.Kind, r.Status = d.string(), allocator.RecordingKind(d.string()), allocator.RecordingStatus(d.string())
	r.Duration, r.Transcript, r.TranscriptStatus, r.At = d.duration(), d.string(), d.string(), d.time()
}

func (*Resize) Type() Type { return TypeResize }

func (c *Resize) encode(e *encoder) {
	e.string(c.Pool)
	e.varint(int64(c.From))
	e.varint(int64(c.To))
	e.string(c.Reason)
	e.varint(int64(c.DailyCap))
	e.time(c.At)
}

func decodeResize(d *decoder) *Resize {
	return &Resize{Pool: d.string(), From: d.int(), To: d.int(), Reason: d.string(), DailyCap: d.int(), At: d.time()}
}

func (*SetVoicemail) Type() Type { return TypeSetVoicemail }

func (c *SetVoicemail) encode(e *encoder) {
	e.voicemail(&c.Voicemail)
	e.time(c.At)
}

func decodeSetVoicemail(d *decoder) *SetVoicemail {
	c := new(SetVoicemail)
	d.voicemail(&c.Voicemail)
	c.At = d.time()
	return c
}
