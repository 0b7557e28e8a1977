package main

import (
	"context"
	"fmt"
	"os/signal"
	"strings"
	"syscall"

	"github.com/dni-dev/dni/provision/standin"
)

// callCmd places a simulated call to a tracking number through the node's
// sandbox and says what happened: who answered, what the agent heard, and
// how dni attributed the call.
func callCmd(e *opEnv, args []string) error {
	f := e.flags()
	c := connFlags(f)
	var from string
	f.plain((*stringValue)(&from), "from", "the caller's number, E.164 (default +12125550199)")
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
	call, err := client.PlaceSandboxCall(ctx, c.addr, rest[0], from)
	if err != nil {
		return fmt.Errorf("simulated call: %w", err)
	}
	t := call.Trace
	fmt.Fprintf(e.stdout, "call %s from %s to %s: %s", call.SID, t.From, t.To, t.Status)
	if t.AnsweredBy != "" {
		fmt.Fprintf(e.stdout, ", answered by %s after dialing %s", t.AnsweredBy, strings.Join(t.Dialed, ", "))
	}
	fmt.Fprintln(e.stdout)
	if len(t.Said) > 0 {
		fmt.Fprintf(e.stdout, "the caller heard: %q\n", strings.Join(t.Said, " "))
	}
	if len(t.Whisper) > 0 {
		fmt.Fprintf(e.stdout, "the agent heard: %q\n", strings.Join(t.Whisper, " "))
	}
	for _, rec := range t.Recordings {
		fmt.Fprintf(e.stdout, "recording %s: %d s (%s)", rec.SID, rec.DurationS, rec.Source)
		if rec.Transcript != "" {
			fmt.Fprintf(e.stdout, ", transcript %q", rec.Transcript)
		}
		fmt.Fprintln(e.stdout)
	}
	if r := call.Call; r != nil {
		fmt.Fprintf(e.stdout, "recorded: from %s, match %s", r.Channel, r.Match)
		if campaign := r.Attribution["utm_campaign"]; campaign != "" {
			fmt.Fprintf(e.stdout, ", campaign %q", campaign)
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}

// sandboxCmd runs the Twilio stand-in on its own, for a cluster of several
// nodes to share: each node gets --twilio-api-url and its credentials.
func sandboxCmd(e *opEnv, args []string) error {
	f := e.flags()
	var addr, state, sid, token string
	f.plain((*stringValue)(&addr), "listen", "host:port to serve the Twilio-compatible API on (default 127.0.0.1:8090)")
	f.plain((*stringValue)(&state), "state", "file that keeps the account's numbers across restarts (default ./dni-sandbox.json)")
	f.plain((*stringValue)(&sid), "account-sid", "the account SID to answer to (default: made up, and kept in --state)")
	f.plain((*stringValue)(&token), "auth-token", "the auth token (default: made up, and kept in --state)")
	if _, err := e.parse(f, args, 0, 0); err != nil {
		return err
	}
	if addr == "" {
		addr = "127.0.0.1:8090"
	}
	if state == "" {
		state = "./dni-sandbox.json"
	}
	sb, err := standin.New(standin.Options{AccountSID: sid, AuthToken: token, StatePath: state})
	if err != nil {
		return err
	}
	url, err := sb.Start(addr)
	if err != nil {
		return err
	}
	defer sb.Close()
	fmt.Fprintf(e.stdout, "sandbox: a Twilio stand-in at %s, numbers kept in %s\n", url, state)
	fmt.Fprintf(e.stdout, "give every node: --twilio-api-url %s --twilio-account-sid %s --twilio-auth-token %s\n", url, sb.AccountSID(), sb.AuthToken())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
