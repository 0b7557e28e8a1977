package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/httpapi"
)

// How long one try at the start-up work waits for the cluster, and the
// longest wait between tries.
const (
	settleTry      = 30 * time.Second
	settleMaxPause = 30 * time.Second
)

// settle does the start-up work that /readyz waits for: the admin token the
// node was given is recorded (for a cluster with none, one is made), and
// the node's state has caught up with the leader's, so that a request sent
// the moment /readyz says 200 finds the token and every acknowledged
// write. While the cluster cannot take the token (no quorum yet) it tries
// again; it gives up only when ctx ends or the node fails. It returns a
// token it made, to be shown once, even when it gives up after making it.
func settle(ctx context.Context, node *cluster.Node, given string, log *slog.Logger) (made string, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-node.Failed():
			cancel()
		case <-ctx.Done():
		}
	}()
	pause := time.Second
	for {
		try, cancelTry := context.WithTimeout(ctx, settleTry)
		m, err := httpapi.EnsureAdminToken(try, node, given)
		if m != "" {
			made = m
		}
		if err == nil {
			err = node.CatchUp(try)
		}
		cancelTry()
		if err == nil {
			return made, nil
		}
		if ctx.Err() != nil {
			return made, err
		}
		log.Warn("start-up: the admin token or the state is not settled yet; the node is not ready until they are", "err", err, "retry", pause)
		select {
		case <-ctx.Done():
			return made, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, settleMaxPause)
	}
}
