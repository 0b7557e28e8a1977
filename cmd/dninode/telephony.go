package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/provision"
	"github.com/dni-dev/dni/provision/standin"
)

// twilioOptions is how a node reaches Twilio, or the sandbox in its place.
type twilioOptions struct {
	accountSID, authToken string
	apiURL                string // a Twilio-compatible API instead of api.twilio.com
	publicURL             string // where Twilio reaches the webhooks
	fallbackURL           string // where Twilio goes when publicURL fails
	sandboxAddr           string // where the embedded sandbox listens
}

func registerTwilioFlags(f *flags, o *twilioOptions) {
	f.stringVar(&o.accountSID, "twilio-account-sid", "", "Twilio account SID (also read from TWILIO_ACCOUNT_SID); without credentials the node runs a local Twilio stand-in, the sandbox")
	f.stringVar(&o.authToken, "twilio-auth-token", "", "Twilio auth token (also read from TWILIO_AUTH_TOKEN); it also checks webhook signatures")
	f.stringVar(&o.apiURL, "twilio-api-url", "", "a Twilio-compatible API to use instead of https://api.twilio.com, such as a shared sandbox (dninode sandbox)")
	f.stringVar(&o.publicURL, "public-url", "", "base URL Twilio and websites reach this cluster at (webhooks, dni.js in install tags), such as https://calls.example.com (default: http:// and --advertise)")
	f.stringVar(&o.fallbackURL, "fallback-url", "", "base URL Twilio tries when --public-url fails, such as another region's load balancer (default: --public-url)")
	f.stringVar(&o.sandboxAddr, "sandbox-addr", "127.0.0.1:0", "host:port the embedded sandbox listens on, when there are no Twilio credentials")
}

// settle fills the credentials from Twilio's own environment variables.
func (o *twilioOptions) settle(lookup func(string) (string, bool)) {
	if o.accountSID == "" {
		o.accountSID, _ = lookup("TWILIO_ACCOUNT_SID")
	}
	if o.authToken == "" {
		o.authToken, _ = lookup("TWILIO_AUTH_TOKEN")
	}
}

func (o *twilioOptions) validate() []error {
	var errs []error
	if (o.accountSID == "") != (o.authToken == "") {
		errs = append(errs, fmt.Errorf("--twilio-account-sid and --twilio-auth-token go together: give both or neither"))
	}
	if o.apiURL != "" && o.accountSID == "" {
		errs = append(errs, fmt.Errorf("--twilio-api-url needs the account's --twilio-account-sid and --twilio-auth-token"))
	}
	for _, u := range []struct{ flag, value string }{{"public-url", o.publicURL}, {"fallback-url", o.fallbackURL}, {"twilio-api-url", o.apiURL}} {
		if u.value == "" {
			continue
		}
		p, err := url.Parse(u.value)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || (p.Path != "" && p.Path != "/") || p.RawQuery != "" {
			errs = append(errs, fmt.Errorf("--%s %q: give a base URL such as https://calls.example.com", u.flag, u.value))
		}
	}
	// Twilio signs its webhooks against the URL it was given, and sends
	// callers' numbers in them: never in clear text over the internet.
	if o.accountSID != "" && o.apiURL == "" && !strings.HasPrefix(o.publicURL, "https://") {
		errs = append(errs, fmt.Errorf("--public-url %q: with real Twilio credentials, give the https:// address Twilio reaches the cluster at", o.publicURL))
	}
	if o.accountSID != "" && o.apiURL == "" && o.fallbackURL != "" && !strings.HasPrefix(o.fallbackURL, "https://") {
		errs = append(errs, fmt.Errorf("--fallback-url %q: with real Twilio credentials, give an https:// address", o.fallbackURL))
	}
	if o.sandboxAddr != "" {
		if err := listenAddr(o.sandboxAddr); err != nil {
			errs = append(errs, fmt.Errorf("--sandbox-addr: %v", err))
		}
	}
	return errs
}

// telephony is a node's provider, wired: the webhooks' settings and the
// reconciler that runs while the node leads.
type telephony struct {
	http       httpapi.Telephony
	reconciler *provision.Reconciler
	sandbox    *standin.Server // the embedded sandbox, or nil
	describe   string          // one line for the operator
}

// startTelephony connects to Twilio, or starts the embedded sandbox when
// there are no credentials. The sandbox keeps its numbers in the data dir,
// so a restarted node finds the numbers it bought.
func startTelephony(o twilioOptions, dataDir, advertise string, log *slog.Logger) (*telephony, error) {
	t := &telephony{}
	public := strings.TrimRight(o.publicURL, "/")
	if public == "" {
		public = "http://" + advertise
	}
	cfg := provision.TwilioConfig{AccountSID: o.accountSID, AuthToken: o.authToken, APIURL: o.apiURL}
	switch {
	case o.accountSID == "":
		sb, err := standin.New(standin.Options{StatePath: filepath.Join(dataDir, "sandbox.json"), Log: log.With("part", "sandbox")})
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		sbURL, err := sb.Start(o.sandboxAddr)
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		cfg = provision.TwilioConfig{AccountSID: sb.AccountSID(), AuthToken: sb.AuthToken(), APIURL: sbURL}
		t.sandbox, t.http.Sandbox = sb, sb
		t.describe = fmt.Sprintf("sandbox: no Twilio credentials, so numbers come from a local Twilio stand-in at %s (account %s); simulate a call: dninode call TRACKING-NUMBER", sbURL, sb.AccountSID())
	case o.apiURL != "":
		sb := &standin.Client{URL: o.apiURL, AccountSID: o.accountSID, AuthToken: o.authToken}
		t.http.Sandbox = sb
		t.describe = fmt.Sprintf("telephony: the Twilio-compatible API at %s (account %s)", o.apiURL, o.accountSID)
	default:
		t.describe = fmt.Sprintf("telephony: Twilio account %s", o.accountSID)
	}
	provider, err := provision.NewTwilio(cfg)
	if err != nil {
		t.close()
		return nil, fmt.Errorf("twilio: %w", err)
	}
	t.http.PublicURL, t.http.AuthToken, t.http.Recordings = public, cfg.AuthToken, provider
	t.reconciler = provision.NewReconciler(provider, public, prometheus.DefaultRegisterer, log.With("part", "provision"))
	t.reconciler.FallbackURL = strings.TrimRight(o.fallbackURL, "/")
	t.describe += "; webhooks: " + public + "/twilio/voice"
	return t, nil
}

// leaderLoop runs the reconciler while the node leads.
func (t *telephony) leaderLoop(ctx context.Context, n *cluster.Node) { t.reconciler.Run(ctx, n) }

func (t *telephony) close() {
	if t.sandbox != nil {
		t.sandbox.Close()
	}
}
