package fsm

import (
	"errors"
	"fmt"

	"github.com/dni-dev/dni/allocator"
)

// Type is the first byte of every encoded command.
type Type uint8

// IgnoreUnknown, set on a command's type byte, lets a node that does not know
// the command skip it instead of stopping. Only commands whose loss cannot
// make replicas disagree on anything that matters may carry it.
const IgnoreUnknown Type = 0x80

// The command types. Numbers are forever: never reuse or renumber one.
const (
	TypeCreatePool     Type = 1
	TypeUpdatePool     Type = 2
	TypeDeletePool     Type = 3
	TypeAddNumber      Type = 4
	TypeMarkRelease    Type = 5
	TypeConfirmRelease Type = 6
	TypeAssign         Type = 7
	TypeRefresh        Type = 8
	TypeTouch          Type = 9
	TypeExpire         Type = 10
	TypeRecordCall     Type = 11
	TypeUpdateCall     Type = 12
	TypeBatch          Type = 13
	TypeSetNode        Type = 14
	TypeRemoveNode     Type = 15
	TypeCreateToken    Type = 16
	TypeDeleteToken    Type = 17
	TypeSetNotice      Type = 18
	TypeEndSessions    Type = 19
	TypeMarkCall       Type = 20
	TypeSetMarketing   Type = 21
	TypeSetSpend       Type = 22
	TypeDeleteSpend    Type = 23
	TypeSetEndpoint    Type = 24
	TypeDeleteEndpoint Type = 25
	TypeRecordAttempt  Type = 26
	TypeSaveRecording  Type = 27
	TypeResize         Type = 28
	TypeSetVoicemail   Type = 29
)

// A Command is one write to the state. Encode turns it into a log entry.
type Command interface {
	Type() Type
	encode(*encoder)
}

// Result is what applying one command produced: Value holds the allocator's
// answer (see each command) when Err is nil.
type Result struct {
	Value any
	Err   error
}

type handler struct {
	name   string
	decode func(*decoder) Command
	apply  func(*machine, Command) Result
}

// registry maps a type (without IgnoreUnknown) to its handler, so Apply is a
// lookup, not a switch.
var registry [128]*handler

func register[C Command](t Type, name string, decode func(*decoder) C, apply func(*machine, C) Result) {
	if t&IgnoreUnknown != 0 || registry[t] != nil {
		panic(fmt.Sprintf("fsm: command type %d registered twice or out of range", t))
	}
	registry[t] = &handler{
		name:   name,
		decode: func(d *decoder) Command { return decode(d) },
		apply:  func(m *machine, c Command) Result { return apply(m, c.(C)) },
	}
}

// Errors from Decode.
var (
	// ErrUnknownCommand: the type byte names no command this node knows.
	ErrUnknownCommand = errors.New("unknown command type")
	// ErrSkippedCommand: an unknown command marked IgnoreUnknown.
	ErrSkippedCommand = errors.New("unknown command skipped")
	// ErrBadCommand wraps every decoding failure of a known command. A
	// batch holding an unknown command is both bad and unknown.
	ErrBadCommand = errors.New("malformed command")
)

// unknownCommand is ErrUnknownCommand with the type byte that named no
// command, so that the state machine can tell the operator which.
type unknownCommand struct{ t Type }

func (e unknownCommand) Error() string { return fmt.Sprintf("%v %d", ErrUnknownCommand, e.t) }
func (e unknownCommand) Unwrap() error { return ErrUnknownCommand }

// Encode returns the log entry for a command: its type byte, then its body.
func Encode(c Command) []byte {
	e := encoder{buf: make([]byte, 0, 64)}
	e.byte(byte(c.Type()))
	c.encode(&e)
	return e.buf
}

// Decode reads a log entry written by Encode. It returns an error, never
// panics, whatever the input.
func Decode(b []byte) (Command, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty entry", ErrBadCommand)
	}
	t := Type(b[0])
	h := registry[t&^IgnoreUnknown]
	if h == nil {
		if t&IgnoreUnknown != 0 {
			return nil, fmt.Errorf("%w: type %d", ErrSkippedCommand, t&^IgnoreUnknown)
		}
		return nil, unknownCommand{t}
	}
	d := decoder{buf: b[1:]}
	c := h.decode(&d)
	d.end()
	if d.err != nil {
		// %w twice: a batch's reason (an unknown command inside it) must
		// still match its sentinel.
		return nil, fmt.Errorf("%w: %s: %w", ErrBadCommand, h.name, d.err)
	}
	return c, nil
}

// onState adapts a command that only concerns the domain state.
func onState[C Command](apply func(*allocator.State, C) Result) func(*machine, C) Result {
	return func(m *machine, c C) Result { return apply(m.state, c) }
}

// apply runs one decoded command against the machine.
func apply(m *machine, c Command) Result {
	if _, ok := c.(skipped); ok {
		return Result{Err: ErrSkippedCommand}
	}
	return registry[c.Type()].apply(m, c)
}

func result(v any, err error) Result { return Result{Value: v, Err: err} }
