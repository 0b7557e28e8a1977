package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/web"
)

// nodeOptions is what the node's flags and environment say. cfg.NodeID is
// --node-id as given, and cfg.HTTPAdvertise --advertise as given; both are
// settled when the node starts.
type nodeOptions struct {
	cfg        cluster.Config
	httpAddr   string
	secret     string
	tls        tlsFiles
	https      httpsOptions
	debug      debugOptions
	webhooks   webhookOptions
	autoscale  autoscaleOptions
	adminToken string
	firstNode  string // the node that bootstraps, where every node has the same --join
	http       httpapi.Options
	twilio     twilioOptions
	logLevel   slog.Level
	version    bool
}

const nodeSynopsis = `usage: dninode [flags]            run a node
       dninode COMMAND [flags]    run an operator command ("dninode help" lists them)

With no flags, dninode runs a one-node cluster that bootstraps itself in
./dni-data and serves on 127.0.0.1:8080, its cluster port (Raft and the
internal API, mutual TLS) on 127.0.0.1:8081. A second node joins it with
--join 127.0.0.1:8081 and the first node's cluster secret.
`

// How long a stopping node waits for HTTP requests under way, and for
// itself to commit what it accepted and hand leadership over.
const (
	httpDrainTimeout = 10 * time.Second
	shutdownTimeout  = 30 * time.Second
)

// parseNode reads the node's flags and their environment twins.
func parseNode(args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) (nodeOptions, error) {
	var o nodeOptions
	f := newFlags("dninode", nodeSynopsis, lookup, stdout, stderr)
	logLevel := registerNodeFlags(f, &o)
	rest, err := f.parse(args)
	if err != nil {
		return o, err
	}
	if len(rest) > 0 {
		return o, usagef("unexpected argument %q (run dninode help for the commands)", rest[0])
	}
	if o.version {
		return o, nil
	}
	if err := o.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return o, usagef("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	o.twilio.settle(lookup)
	if err := o.validate(); err != nil {
		return o, usageError{err: err}
	}
	return o, nil
}

// registerNodeFlags binds the node's flags to o, and returns where the log
// level's text lands.
func registerNodeFlags(f *flags, o *nodeOptions) *string {
	c := &o.cfg
	f.stringVar(&c.NodeID, "node-id", "", "this node's id, unique in the cluster and never changed; default: the one stored in the data dir, else a new random one")
	f.stringVar(&o.httpAddr, "http-addr", "127.0.0.1:8080", "host:port the HTTP API listens on (port 0 picks a free port)")
	f.stringVar(&c.RaftAddr, "raft-addr", "127.0.0.1:8081", "host:port of the cluster port: Raft and the internal API, mutual TLS (loopback unless told otherwise)")
	f.stringVar(&c.HTTPAdvertise, "advertise", "", "host:port operators and the admin pages reach the HTTP API on (default: the address it listens on)")
	f.stringVar(&c.RaftAdvertise, "raft-advertise", "", "host:port other nodes reach the cluster port on (default: --raft-addr)")
	f.stringVar(&c.DataDir, "data-dir", "./dni-data", "directory for the Raft log, snapshots, the node id and the cluster secret")
	f.listVar(&c.Join, "join", "cluster ports (--raft-addr) of nodes of the cluster to join, comma-separated or repeated; ignored once the node has state")
	f.stringVar(&o.firstNode, "first-node", "", "id of the node that starts the cluster when every node is given the same --join (a StatefulSet's pod -0): that node ignores --join, the others join")
	f.boolVar(&c.Bootstrap, "bootstrap", "start a new cluster with this node as its only voter (a node with no --join does so anyway, unless --no-bootstrap)")
	f.boolVar(&c.NoBootstrap, "no-bootstrap", "with no state and no --join, wait for an operator to add this node (dninode add-node) instead of starting a cluster")
	f.boolVar(&c.JoinAsNonvoter, "nonvoter", "join as a non-voter: it replicates and serves, but does not vote")
	f.stringVar(&o.secret, "cluster-secret", "", "the secret of the cluster, at least 32 bytes: without --tls-* files, nodes and operators derive their certificates from it; default: the data dir's cluster-secret file, created by the first node")
	registerTLSFlags(f, &o.tls)
	f.stringVar(&o.adminToken, "admin-token", "", "an admin API token (role admin) to accept, at least 16 characters; default: if the cluster has none, one is made at first start and kept in the data dir's admin-token file")
	f.stringVar(&o.http.ClientIPHeader, "client-ip-header", "", "header a trusted proxy in front of dni sets to the visitor's address (X-Forwarded-For, X-Real-IP); empty when visitors connect directly")
	f.intVar(&o.http.VisitsPerMinute, "visits-per-minute", httpapi.DefaultVisitsPerMinute, "new visits allowed per visitor address per minute (negative: no limit)")
	f.intVar(&o.http.MaxConns, "max-conns", httpapi.DefaultMaxConns, "open connections the HTTP API takes at once (negative: no cap)")
	f.intVar(&o.http.MaxConnsPerAddress, "max-conns-per-address", httpapi.DefaultMaxConnsPerAddress, "open connections the HTTP API takes from one address (negative: no cap; behind --client-ip-header the default is none, since every connection is the proxy's)")
	registerHTTPSFlags(f, &o.https)
	registerDebugFlags(f, &o.debug)
	registerWebhookFlags(f, &o.webhooks)
	registerAutoscaleFlags(f, &o.autoscale)
	registerTwilioFlags(f, &o.twilio)
	f.uint64Var(&c.SnapshotThreshold, "snapshot-threshold", cluster.DefaultSnapshotThreshold, "log entries between snapshots")
	f.durationVar(&c.SnapshotInterval, "snapshot-interval", cluster.DefaultSnapshotInterval, "how often to check whether a snapshot is due")
	f.uint64Var(&c.TrailingLogs, "trailing-logs", cluster.DefaultTrailingLogs, "log entries kept after a snapshot, for followers that lag")
	f.durationVar(&c.HeartbeatTimeout, "heartbeat-timeout", cluster.DefaultHeartbeatTimeout, "how long a follower waits to hear from the leader before it calls an election")
	f.durationVar(&c.ElectionTimeout, "election-timeout", cluster.DefaultElectionTimeout, "how long a candidate waits for votes")
	f.durationVar(&c.LeaderLease, "leader-lease", cluster.DefaultLeaderLease, "how long a leader stays leader without hearing from a majority")
	f.durationVar(&c.CommitTimeout, "commit-timeout", cluster.DefaultCommitTimeout, "longest wait before an idle leader tells followers what is committed")
	f.intVar(&c.BatchMax, "batch-max", cluster.DefaultBatchMax, "most writes in one log entry (1 turns group commit off)")
	f.durationVar(&c.BatchWait, "batch-wait", cluster.DefaultBatchWait, "longest wait for more writes to fill a log entry")
	f.durationVar(&c.WriteTimeout, "write-timeout", cluster.DefaultWriteTimeout, "how long a write is held while no leader can take it")
	f.durationVar(&c.HeartbeatFlush, "heartbeat-flush", cluster.DefaultHeartbeatFlush, "how often gathered visitor heartbeats are committed")
	f.durationVar(&c.ExpireEvery, "expire-every", cluster.DefaultExpireEvery, "how often the leader ends idle visits")
	f.durationVar(&c.LeaderGrace, "leader-grace", cluster.DefaultLeaderGrace, "after an election, how long the new leader spares visits whose heartbeats the election held up")
	logLevel := new(string)
	f.stringVar(logLevel, "log-level", "info", "debug, info, warn or error")
	f.plain((*boolValue)(&o.version), "version", "print the version and exit")
	return logLevel
}

// validate reports every mistake in the options at once.
func (o *nodeOptions) validate() error {
	c := &o.cfg
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := listenAddr(o.httpAddr); err != nil {
		bad("--http-addr: %v", err)
	} else if c.HTTPAdvertise == "" && everyInterface(o.httpAddr) {
		bad("--http-addr %s listens on every interface: set --advertise to the address others reach this node on", o.httpAddr)
	}
	switch {
	case listenAddr(c.RaftAddr) != nil:
		bad("--raft-addr: %v", listenAddr(c.RaftAddr))
	case strings.HasSuffix(c.RaftAddr, ":0"):
		bad("--raft-addr %s: Raft needs a fixed port, since the cluster records it", c.RaftAddr)
	case c.RaftAdvertise == "" && everyInterface(c.RaftAddr):
		bad("--raft-addr %s listens on every interface: set --raft-advertise to the address others reach this node on", c.RaftAddr)
	}
	if c.HTTPAdvertise != "" && !advertisable(c.HTTPAdvertise) {
		bad("--advertise %q: give the host and port others reach this node on", c.HTTPAdvertise)
	}
	if c.RaftAdvertise != "" && !advertisable(c.RaftAdvertise) {
		bad("--raft-advertise %q: give the host and port others reach this node on", c.RaftAdvertise)
	}
	if c.DataDir == "" {
		bad("--data-dir must not be empty")
	}
	if o.adminToken != "" && len(o.adminToken) < httpapi.MinTokenLen {
		bad("--admin-token is %d characters; it must be at least %d, whatever it starts with", len(o.adminToken), httpapi.MinTokenLen)
	}
	for _, j := range c.Join {
		if !advertisable(j) {
			bad("--join %q: give a node's cluster port (its --raft-addr) as host:port", j)
		}
	}
	if err := o.tls.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.https.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.debug.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.webhooks.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.autoscale.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Bootstrap && len(c.Join) > 0 {
		bad("--bootstrap starts a new cluster and --join joins one: give one of them")
	}
	if c.Bootstrap && c.NoBootstrap {
		bad("--bootstrap and --no-bootstrap exclude each other")
	}
	if o.firstNode != "" && len(c.Join) == 0 {
		bad("--first-node %s says which node does not join: it needs the --join the others use", o.firstNode)
	}
	if c.JoinAsNonvoter && len(c.Join) == 0 {
		bad("--nonvoter says how to join: it needs --join")
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"snapshot-interval", c.SnapshotInterval}, {"heartbeat-timeout", c.HeartbeatTimeout},
		{"election-timeout", c.ElectionTimeout}, {"leader-lease", c.LeaderLease},
		{"commit-timeout", c.CommitTimeout}, {"batch-wait", c.BatchWait}, {"write-timeout", c.WriteTimeout},
		{"heartbeat-flush", c.HeartbeatFlush}, {"expire-every", c.ExpireEvery}, {"leader-grace", c.LeaderGrace},
	}
	for _, d := range durations {
		if d.d <= 0 {
			bad("--%s must be positive, got %v", d.name, d.d)
		}
	}
	if c.LeaderLease > c.HeartbeatTimeout {
		bad("--leader-lease %v must not exceed --heartbeat-timeout %v", c.LeaderLease, c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		bad("--election-timeout %v must not be less than --heartbeat-timeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.SnapshotThreshold < 1 || c.TrailingLogs < 1 {
		bad("--snapshot-threshold and --trailing-logs must be at least 1")
	}
	if c.BatchMax < 1 {
		bad("--batch-max must be at least 1, got %d", c.BatchMax)
	}
	errs = append(errs, o.twilio.validate()...)
	return errors.Join(errs...)
}

// listenAddr checks a host:port to listen on; the host may be empty (every
// interface) and the port 0 (any free port).
func listenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if port == "" {
		return fmt.Errorf("%q has no port", addr)
	}
	return nil
}

// everyInterface reports whether a listen address names no host, or the
// unspecified one: such an address tells others nothing.
func everyInterface(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// advertisable reports whether another host could dial addr: it names a
// host, not every interface, and a port.
func advertisable(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port != "" && port != "0" && !everyInterface(addr)
}

// runNode runs a node until ctx ends (on SIGTERM or SIGINT), then stops it
// without losing what it accepted.
func runNode(ctx context.Context, o nodeOptions, stdout, stderr io.Writer) error {
	privateUmask()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	slog.SetDefault(log)
	tuneGC(log)
	cfg := o.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	privateDataDir(cfg.DataDir, log)
	id, err := resolveNodeID(cfg.DataDir, cfg.NodeID)
	if err != nil {
		return err
	}
	cfg.NodeID = id
	if id == o.firstNode {
		cfg.Join = nil
	}
	secret, secretPath, err := resolveSecret(cfg.DataDir, o.secret, len(cfg.Join) > 0)
	if err != nil {
		return err
	}
	if cfg.TLS, err = o.tls.load(secret, id); err != nil {
		return err
	}
	// Listening first settles the HTTP address (port 0 included) that the
	// node records for others before it joins.
	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return fmt.Errorf("listen for HTTP: %w", err)
	}
	if cfg.HTTPAdvertise == "" {
		cfg.HTTPAdvertise = ln.Addr().String()
	}
	if err := cluster.ExportRaftMetrics(prometheus.DefaultRegisterer); err != nil {
		ln.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	debugURL, stopDebug, err := serveDebug(o.debug, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopDebug()
	tel, err := startTelephony(o.twilio, cfg.DataDir, cfg.HTTPAdvertise, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer tel.close()
	cfg.LeaderLoops = append(cfg.LeaderLoops, tel.leaderLoop, o.webhooks.leaderLoop(log), o.autoscale.leaderLoop(log))
	log.Info("starting", "version", version, "node", id, "http", cfg.HTTPAdvertise, "raft", cfg.RaftAddr, "data", cfg.DataDir)
	node, err := cluster.Start(ctx, cfg, httpapi.NewClient(&cluster.Dialer{TLS: cfg.TLS}), log)
	if err != nil {
		ln.Close()
		return fmt.Errorf("start node %s: %w", id, explainCorrupt(err))
	}
	started := make(chan struct{})
	o.http.Started = started
	o.http.Secret, o.http.Log, o.http.Telephony, o.http.Pages = secret, log, tel.http, web.Handler
	srv := httpapi.New(node, o.http)
	served := make(chan error, 3)
	go func() { served <- srv.Serve(ln) }()
	stopHTTPS := make(chan struct{})
	defer close(stopHTTPS)
	if o.https.addr != "" {
		tlsLn, err := listenHTTPS(o.https, log, stopHTTPS)
		if err != nil {
			return errors.Join(err, stop(node, srv, log))
		}
		go func() { served <- srv.Serve(tlsLn) }()
		fmt.Fprintf(stdout, "HTTPS: https://%s (certificate %s, loaded again on SIGHUP)\n", tlsLn.Addr(), o.https.cert)
	}
	go func() { served <- srv.ServeInternal(node.InternalListener()) }()

	url := "http://" + cfg.HTTPAdvertise
	fmt.Fprintf(stdout, "dni node %s ready: %s (cluster port %s, %s; data %s)\n", id, url, node.RaftAddr(), o.tls.describe(), cfg.DataDir)
	fmt.Fprintf(stdout, "health: %s/healthz  readiness: %s/readyz\n", url, url)
	if debugURL != "" {
		fmt.Fprintf(stdout, "profiles: %s\n", debugURL)
	}
	fmt.Fprintf(stdout, "admin pages: %s/admin/ (sign in with an admin token)\n", url)
	// Ready means the token is recorded and the state current (settle).
	token, err := settle(ctx, node, o.adminToken, log)
	if err == nil {
		close(started)
	}
	fmt.Fprintf(stdout, "admin API: %s/v1/pools  API description: %s/openapi.json  metrics: %s/metrics\n", url, url, url)
	if token != "" {
		if err := announceAdminToken(stdout, isTerminal(stdout), cfg.DataDir, token); err != nil {
			log.Error("admin token", "err", err)
		}
	}
	fmt.Fprintln(stdout, tel.describe)
	if secretPath != "" {
		fmt.Fprintf(stdout, "cluster secret: in %s; nodes that join, and operator commands, need it (--cluster-secret or DNI_CLUSTER_SECRET)\n", secretPath)
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: no more requests; committing what was accepted")
	case err := <-served:
		serveErr = fmt.Errorf("HTTP server stopped: %v", err)
		log.Error("HTTP server stopped; stopping the node", "err", err)
	case <-node.Failed():
		serveErr = node.Err() // the state machine logged it
	}
	return errors.Join(serveErr, stop(node, srv, log))
}

// stop stops taking requests, then stops the node, bounded by
// shutdownTimeout.
func stop(node *cluster.Node, srv *httpapi.Server, log *slog.Logger) error {
	drain, cancelDrain := context.WithTimeout(context.Background(), httpDrainTimeout)
	if err := srv.Shutdown(drain); err != nil {
		log.Warn("HTTP requests still under way; stopping the node anyway", "waited", httpDrainTimeout, "err", err)
	}
	cancelDrain()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- node.Shutdown(ctx) }()
	select {
	case err := <-stopped:
		if err != nil {
			return fmt.Errorf("shut down: %w", err)
		}
	case <-ctx.Done():
		return fmt.Errorf("the node did not stop within %v", shutdownTimeout)
	}
	log.Info("stopped")
	return nil
}
