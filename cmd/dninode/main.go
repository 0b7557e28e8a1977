// Command dninode is the one dni binary: a node of the call-tracking
// cluster, and the operator's tool for it.
package main

import (
	"flag"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	flags := flag.NewFlagSet("dninode", flag.ContinueOnError)
	showVersion := flags.Bool("version", false, "print the version and exit")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: dninode [--version]\n\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return
		}
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println("dninode", version)
		return
	}
	fmt.Fprintf(os.Stderr, "dninode %s: not yet serving.\n"+
		"The replicated state machine (allocator/, fsm/) is built and tested;\n"+
		"the Raft node and its HTTP API come next (see README.md).\n", version)
	os.Exit(1)
}
