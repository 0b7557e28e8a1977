package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// flags is a flag set whose flags may have an environment twin, DNI_ and the
// flag's name in capitals: --raft-addr and DNI_RAFT_ADDR. A flag given on
// the command line wins over its twin, and the twin over the default.
type flags struct {
	fs       *flag.FlagSet
	synopsis string            // printed above the flags by --help
	env      map[string]string // flag name → its environment twin
	order    []string          // flag names as registered, for --help
	lookup   func(string) (string, bool)
	help     io.Writer // where --help prints
}

// newFlags returns an empty set for a command. lookup reads the environment
// (os.LookupEnv, or a map in tests); --help prints to stdout, mistakes in
// the arguments to stderr.
func newFlags(name, synopsis string, lookup func(string) (string, bool), stdout, stderr io.Writer) *flags {
	f := &flags{fs: flag.NewFlagSet(name, flag.ContinueOnError), synopsis: synopsis, env: map[string]string{}, lookup: lookup, help: stdout}
	f.fs.SetOutput(stderr)
	// The flag package calls Usage after every mistake; a one-line error
	// and a pointer to --help serve better than the whole list there.
	f.fs.Usage = func() {}
	return f
}

// envName is the environment twin of a flag.
func envName(flagName string) string {
	return "DNI_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// withEnv registers a flag together with its environment twin.
func (f *flags) withEnv(v flag.Value, name, usage string) {
	f.plain(v, name, usage)
	f.env[name] = envName(name)
}

// plain registers a flag with no environment twin: a sub-command's operands
// (which node to add or remove) must not be picked up from a node's own
// environment, where DNI_RAFT_ADDR means something else.
func (f *flags) plain(v flag.Value, name, usage string) {
	f.fs.Var(v, name, usage)
	f.order = append(f.order, name)
}

func (f *flags) stringVar(p *string, name, value, usage string) {
	*p = value
	f.withEnv((*stringValue)(p), name, usage)
}

func (f *flags) boolVar(p *bool, name, usage string) {
	f.withEnv((*boolValue)(p), name, usage)
}

func (f *flags) durationVar(p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	f.withEnv((*durationValue)(p), name, usage)
}

func (f *flags) uint64Var(p *uint64, name string, value uint64, usage string) {
	*p = value
	f.withEnv((*uint64Value)(p), name, usage)
}

func (f *flags) intVar(p *int, name string, value int, usage string) {
	*p = value
	f.withEnv((*intValue)(p), name, usage)
}

// listVar registers a flag that takes comma-separated values and may be
// repeated; its twin takes the comma-separated form.
func (f *flags) listVar(p *[]string, name, usage string) {
	f.withEnv((*listValue)(p), name, usage)
}

// parse reads args, then fills every flag not given on the command line
// from its environment twin, if set. It returns the positional arguments,
// which may come before, between or after the flags; everything after "--"
// is positional. For --help it prints the usage and returns flag.ErrHelp;
// a mistake, already printed by the flag package, comes back as a shown
// usageError.
func (f *flags) parse(args []string) ([]string, error) {
	var positional []string
	for {
		if err := f.fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			f.usage(f.help)
			return nil, err
		} else if err != nil {
			return nil, usageError{err: err, shown: true}
		}
		rest := f.fs.Args()
		if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	var errs []error
	for _, name := range f.order {
		env, ok := f.env[name]
		if !ok || given[name] {
			continue
		}
		if v, ok := f.lookup(env); ok {
			if err := f.fs.Set(name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, usageError{err: errors.Join(errs...)}
	}
	return positional, nil
}

// usage prints the synopsis and every flag in the order registered, with its
// twin and default.
func (f *flags) usage(w io.Writer) {
	fmt.Fprint(w, f.synopsis)
	if len(f.order) > 0 {
		fmt.Fprintln(w, "\nFlags (a flag given on the command line wins over its environment variable):")
	}
	for _, name := range f.order {
		fl := f.fs.Lookup(name)
		line := "  --" + name
		if env, ok := f.env[name]; ok {
			line += " (env " + env + ")"
		}
		fmt.Fprintf(w, "%s\n        %s", line, fl.Usage)
		switch fl.DefValue {
		case "", "false":
		default:
			fmt.Fprintf(w, " (default %s)", fl.DefValue)
		}
		fmt.Fprintln(w)
	}
}

// usageError marks an error the user can fix by calling the command
// differently: main exits with status 2 for it. Shown says it has been
// printed already.
type usageError struct {
	err   error
	shown bool
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{err: fmt.Errorf(format, args...)}
}

// The flag.Value types below bind flags to variables; the standard
// library's are unexported. boolValue also takes yes/no and on/off, as
// environment variables often say.

type stringValue string

func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
func (s *stringValue) String() string     { return string(*s) }

type boolValue bool

func (b *boolValue) Set(v string) error {
	switch strings.ToLower(v) {
	case "1", "t", "true", "yes", "on":
		*b = true
	case "0", "f", "false", "no", "off", "":
		*b = false
	default:
		return fmt.Errorf("%q is not a boolean (true or false)", v)
	}
	return nil
}
func (b *boolValue) String() string {
	if b != nil && bool(*b) {
		return "true"
	}
	return "false"
}
func (b *boolValue) IsBoolFlag() bool { return true }

type durationValue time.Duration

func (d *durationValue) Set(v string) error {
	p, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a duration (say 500ms, 2s or 1m)", v)
	}
	*d = durationValue(p)
	return nil
}
func (d *durationValue) String() string { return time.Duration(*d).String() }

type uint64Value uint64

func (u *uint64Value) Set(v string) error {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	*u = uint64Value(n)
	return nil
}
func (u *uint64Value) String() string { return strconv.FormatUint(uint64(*u), 10) }

type intValue int

func (i *intValue) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", v)
	}
	*i = intValue(n)
	return nil
}
func (i *intValue) String() string { return strconv.Itoa(int(*i)) }

type listValue []string

func (l *listValue) Set(v string) error {
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}
func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}
