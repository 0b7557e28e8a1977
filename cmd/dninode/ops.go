package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/httpapi"
)

// A command is an operator sub-command: dninode NAME ARGS.
type command struct {
	name, args, summary string
	run                 func(e *opEnv, args []string) error
}

// commands lists the operator commands in the order help shows them.
// help itself is answered by runCommand.
var commands = []command{
	{"nodes", "", "list the cluster's nodes: role, addresses, last contact, applied index, readiness", nodesCmd},
	{"add-node", "--id ID --raft-addr HOST:PORT --http-addr HOST:PORT [--nonvoter]",
		"add a node to the cluster, or make a non-voter a voter", addNodeCmd},
	{"remove-node", "ID", "take a node out of the cluster", removeNodeCmd},
	{"transfer-leadership", "[ID]", "hand leadership to node ID, or to the most up-to-date voter", transferCmd},
	{"snapshot", "save FILE | restore FILE", "save the cluster's state to a file, or replace the state with one", snapshotCmd},
	{"peers-json", "--out FILE ID=RAFTADDR ...", "write the raft/peers.json that recovers a cluster which lost its quorum", peersJSONCmd},
	{"certs", "ca | node --name NAME [--host HOST]", "make the certificates of the cluster's mutual TLS: a CA for the cluster alone, and one per node signed by it", certsCmd},
	{"call", "[--from CALLER] TRACKING-NUMBER", "sandbox: place a simulated call to a tracking number and show how it was forwarded and attributed", callCmd},
	{"sandbox", "[--listen HOST:PORT] [--state FILE]", "run the Twilio stand-in on its own, for the nodes of a sandbox cluster to share", sandboxCmd},
	{"health", "[--addr HOST:PORT] [--live]", "exit 0 if the node is ready (or, with --live, serves), 1 if not: a container's health check", healthCmd},
	{"bench", "[--rate N | --utilisation U] [--pools N] [--compare] [--kill-leader-every D] [--trace] [--json]", "measure a cluster: throughput against the no-op rate, latency, pool utilisation, attribution accuracy, faults; or, with --trace, the pool-size advisor on simulated hours", benchCmd},
}

// opEnv is what every command runs with.
type opEnv struct {
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	cmd            command
}

// runCommand runs the operator command name.
func runCommand(name string, args []string, e *opEnv) error {
	if name == "help" {
		return help(e, args)
	}
	for _, c := range commands {
		if c.name == name {
			e.cmd = c
			return c.run(e, args)
		}
	}
	return usagef("unknown command %q", name)
}

func help(e *opEnv, args []string) error {
	if len(args) > 0 && args[0] != "help" && !strings.HasPrefix(args[0], "-") {
		return runCommand(args[0], []string{"--help"}, e)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 3, ' ', 0)
	fmt.Fprint(w, `usage: dninode [flags]            run a node (dninode --help shows the flags)
       dninode COMMAND [flags]    run an operator command against a node

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %s\t%s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  help COMMAND\tshow a command's arguments and flags\n")
	fmt.Fprint(w, `
The commands reach a node's internal API on its cluster port, --addr (env
DNI_ADDR, default 127.0.0.1:8081), over mutual TLS: with --tls-cert,
--tls-key and --tls-ca (env DNI_TLS_*), else a certificate derived from
the cluster secret: --cluster-secret (env DNI_CLUSTER_SECRET), else the
cluster-secret file in --data-dir.
`)
	return w.Flush()
}

// flags returns the command's flag set, its synopsis built from the command.
func (e *opEnv) flags() *flags {
	synopsis := fmt.Sprintf("usage: %s\n\n%s.\n", e.synopsis(), capitalise(e.cmd.summary))
	return newFlags("dninode "+e.cmd.name, synopsis, e.lookup, e.stdout, e.stderr)
}

func (e *opEnv) synopsis() string {
	return strings.TrimSpace(fmt.Sprintf("dninode %s [flags] %s", e.cmd.name, e.cmd.args))
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// parse reads the command's flags and checks it got between least and
// most positional arguments (most < 0: no limit).
func (e *opEnv) parse(f *flags, args []string, least, most int) ([]string, error) {
	rest, err := f.parse(args)
	if err != nil {
		return nil, err
	}
	if len(rest) < least || most >= 0 && len(rest) > most {
		return nil, usagef("usage: %s", e.synopsis())
	}
	return rest, nil
}

// conn says how a command reaches a node.
type conn struct {
	addr, secret, dataDir string
	tls                   tlsFiles
	timeout               time.Duration
}

// connFlags registers the flags every command that talks to a node has.
func connFlags(f *flags) *conn {
	c := &conn{}
	f.stringVar(&c.addr, "addr", "127.0.0.1:8081", "the cluster port (--raft-addr) of the node to ask")
	f.stringVar(&c.secret, "cluster-secret", "", "the cluster secret; default: the cluster-secret file in --data-dir")
	f.stringVar(&c.dataDir, "data-dir", "./dni-data", "a node's data dir, to read the cluster-secret file from")
	registerTLSFlags(f, &c.tls)
	f.durationVar(&c.timeout, "timeout", 30*time.Second, "how long to wait for the node")
	return c
}

// client returns a client for the cluster's internal API: with the
// certificate files given, else a certificate derived from the secret,
// given or read from the data dir.
func (c *conn) client() (*httpapi.Client, error) {
	if err := c.tls.validate(); err != nil {
		return nil, usageError{err: err}
	}
	secret := c.secret
	if secret == "" && !c.tls.given() {
		path := filepath.Join(c.dataDir, secretFile)
		var err error
		if secret, err = readSmallFile(path); err != nil {
			return nil, err
		}
		if secret == "" {
			return nil, usagef("no cluster secret: set --cluster-secret or DNI_CLUSTER_SECRET, or point --data-dir at a node's data dir (there is no %s), or give --tls-cert, --tls-key and --tls-ca", path)
		}
	}
	tls, err := c.tls.load(secret, "operator")
	if err != nil {
		return nil, err
	}
	return httpapi.NewClient(&cluster.Dialer{TLS: tls}), nil
}

func (c *conn) context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// atLeader calls do with addr and, if that node answers that it is not the
// leader and names the leader, once more with the leader's address.
func atLeader(addr string, do func(addr string) error) error {
	err := do(addr)
	var nl *cluster.NotLeaderError
	if errors.As(err, &nl) && nl.LeaderAddr != "" && nl.LeaderAddr != addr {
		err = do(nl.LeaderAddr)
	}
	return err
}

func nodesCmd(e *opEnv, args []string) error {
	f := e.flags()
	c := connFlags(f)
	if _, err := e.parse(f, args, 0, 0); err != nil {
		return err
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := c.context()
	defer cancel()
	ms, err := client.Members(ctx, c.addr)
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	return printMembers(e.stdout, ms)
}

// printMembers prints one line per node, by id.
func printMembers(w io.Writer, ms []cluster.Member) error {
	slices.SortFunc(ms, func(a, b cluster.Member) int { return cmp.Compare(a.ID, b.ID) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tRAFT\tHTTP\tLAST CONTACT\tAPPLIED\tREADY\tERROR")
	dash := func(s string) string { return cmp.Or(s, "-") }
	for _, m := range ms {
		role := "follower"
		switch {
		case m.Leader:
			role = "leader"
		case !m.Voter:
			role = "nonvoter"
		}
		contact, applied, ready := "-", "-", "-"
		if s := m.Status; s != nil {
			if !m.Leader && s.LastContact > 0 {
				contact = s.LastContact.Round(time.Millisecond).String()
			}
			applied = strconv.FormatUint(s.AppliedIndex, 10)
			ready = "no"
			if s.Ready {
				ready = "yes"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, role, m.RaftAddr, dash(m.HTTPAddr), contact, applied, ready, m.Error)
	}
	return tw.Flush()
}

func addNodeCmd(e *opEnv, args []string) error {
	f := e.flags()
	c := connFlags(f)
	var req cluster.JoinRequest
	var nonvoter bool
	f.plain((*stringValue)(&req.ID), "id", "the new node's id")
	f.plain((*stringValue)(&req.RaftAddr), "raft-addr", "host:port the new node's cluster port is reached on")
	f.plain((*stringValue)(&req.HTTPAddr), "http-addr", "host:port the new node's HTTP API is reached on")
	f.plain((*boolValue)(&nonvoter), "nonvoter", "add it as a non-voter")
	if _, err := e.parse(f, args, 0, 0); err != nil {
		return err
	}
	if req.ID == "" || !advertisable(req.RaftAddr) || !advertisable(req.HTTPAddr) {
		return usagef("add-node needs --id, and --raft-addr and --http-addr as host:port")
	}
	req.Voter = !nonvoter
	client, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := c.context()
	defer cancel()
	err = atLeader(c.addr, func(addr string) error { return client.Join(ctx, addr, req) })
	if err != nil {
		return fmt.Errorf("add node %s: %w", req.ID, err)
	}
	kind := "a voter"
	if nonvoter {
		kind = "a non-voter"
	}
	fmt.Fprintf(e.stdout, "added node %s as %s\n", req.ID, kind)
	return nil
}

func removeNodeCmd(e *opEnv, args []string) error {
	f := e.flags()
	c := connFlags(f)
	rest, err := e.parse(f, args, 1, 1)
	if err != nil {
		return err
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := c.context()
	defer cancel()
	id := rest[0]
	if err := atLeader(c.addr, func(addr string) error { return client.Remove(ctx, addr, id) }); err != nil {
		return fmt.Errorf("remove node %s: %w", id, err)
	}
	fmt.Fprintf(e.stdout, "removed node %s\n", id)
	return nil
}

func transferCmd(e *opEnv, args []string) error {
	f := e.flags()
	c := connFlags(f)
	rest, err := e.parse(f, args, 0, 1)
	if err != nil {
		return err
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := c.context()
	defer cancel()
	var id string
	if len(rest) == 1 {
		id = rest[0]
	}
	if err := atLeader(c.addr, func(addr string) error { return client.TransferLeadership(ctx, addr, id) }); err != nil {
		return fmt.Errorf("transfer leadership: %w", err)
	}
	fmt.Fprintf(e.stdout, "leadership handed over to %s\n", cmp.Or(id, "the most up-to-date voter"))
	return nil
}

func snapshotCmd(e *opEnv, args []string) error {
	f := e.flags()
	c := connFlags(f)
	rest, err := e.parse(f, args, 2, 2)
	if err != nil {
		return err
	}
	verb, file := rest[0], rest[1]
	if verb != "save" && verb != "restore" {
		return usagef("snapshot %q: use snapshot save FILE or snapshot restore FILE", verb)
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := c.context()
	defer cancel()
	if verb == "save" {
		return saveSnapshot(ctx, e.stdout, client, c.addr, file)
	}
	return restoreSnapshot(ctx, e.stdout, client, c.addr, file)
}

// saveSnapshot writes the state to file, all or nothing, after checking it
// reads back whole.
func saveSnapshot(ctx context.Context, out io.Writer, client *httpapi.Client, addr, file string) error {
	b, err := client.Backup(ctx, addr)
	if err != nil {
		return fmt.Errorf("back up: %w", err)
	}
	summary, err := checkSnapshot(b)
	if err != nil {
		return fmt.Errorf("the node at %s sent a snapshot that does not read back: %w", addr, err)
	}
	if err := writeFileAtomic(file, b, 0o600); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	fmt.Fprintf(out, "saved %s (%d bytes: %s)\n", file, len(b), summary)
	return nil
}

func restoreSnapshot(ctx context.Context, out io.Writer, client *httpapi.Client, addr, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	summary, err := checkSnapshot(b)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if err := atLeader(addr, func(addr string) error { return client.Restore(ctx, addr, b) }); err != nil {
		return fmt.Errorf("restore %s: %w", file, err)
	}
	fmt.Fprintf(out, "restored the cluster's state from %s (%s)\n", file, summary)
	return nil
}

// checkSnapshot reads a snapshot and checks it makes a whole state.
func checkSnapshot(b []byte) (summary string, err error) {
	backup, err := fsm.ReadBackup(bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	return backup.Summary(), nil
}
