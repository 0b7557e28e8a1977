// Command dninode is the one dni binary: a node of the call-tracking
// cluster, and the operator's tool for it.
//
// With flags only, it runs a node (dninode --help); with a command as its
// first argument, it runs that operator command against a node
// (dninode help).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// run runs dninode with args and returns its exit status: 0, 1 for a
// failure, 2 for a mistake in the arguments.
func run(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	err := dispatch(args, stdout, stderr, lookup)
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		if !usage.shown {
			fmt.Fprintf(stderr, "dninode: %v\n", err)
		}
		fmt.Fprintln(stderr, "(dninode --help shows the node's flags, dninode help the commands)")
		return 2
	default:
		fmt.Fprintf(stderr, "dninode: %v\n", err)
		return 1
	}
}

func dispatch(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return runCommand(args[0], args[1:], &opEnv{stdout: stdout, stderr: stderr, lookup: lookup})
	}
	o, err := parseNode(args, lookup, stdout, stderr)
	if err != nil {
		return err
	}
	if o.version {
		fmt.Fprintln(stdout, "dninode", version)
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// After the first signal the node stops gracefully; a second one ends
	// the process at once.
	context.AfterFunc(ctx, stop)
	return runNode(ctx, o, stdout, stderr)
}
