package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/webhook"
)

// webhookOptions tune how the leader delivers call events to the webhook
// endpoints operators register (/v1/webhooks).
type webhookOptions struct {
	sender webhook.Sender
}

func registerWebhookFlags(f *flags, o *webhookOptions) {
	s := &o.sender
	f.durationVar(&s.Timeout, "webhook-timeout", webhook.DefaultTimeout, "how long an endpoint has to answer a webhook request")
	f.durationVar(&s.RetryMin, "webhook-retry-min", webhook.DefaultRetryMin, "wait after a webhook request's first failure; each failure doubles it")
	f.durationVar(&s.RetryMax, "webhook-retry-max", webhook.DefaultRetryMax, "longest wait between two attempts to deliver a webhook event")
	f.durationVar(&s.RetryFor, "webhook-retry-for", webhook.DefaultRetryFor, "how long a webhook event is retried before it is given up (at least 24h)")
}

func (o webhookOptions) validate() error {
	s := o.sender
	switch {
	case s.Timeout <= 0 || s.RetryMin <= 0 || s.RetryMax < s.RetryMin:
		return fmt.Errorf("--webhook-timeout and --webhook-retry-min must be positive, and --webhook-retry-max at least --webhook-retry-min")
	case s.RetryFor <= 0:
		return fmt.Errorf("--webhook-retry-for must be positive")
	}
	return nil
}

// leaderLoop delivers webhook events while the node leads.
func (o *webhookOptions) leaderLoop(log *slog.Logger) cluster.LeaderLoop {
	s := webhook.NewSender(httpapi.EventBody, prometheus.DefaultRegisterer, log.With("part", "webhooks"))
	s.Timeout, s.RetryMin, s.RetryMax, s.RetryFor = o.sender.Timeout, o.sender.RetryMin, o.sender.RetryMax, o.sender.RetryFor
	return func(ctx context.Context, n *cluster.Node) { s.Run(ctx, n) }
}
