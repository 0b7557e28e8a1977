package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/provision"
)

// autoscaleOptions tune how the leader sizes the pools that set autoscale
// bounds (a pool's min_size and max_size).
type autoscaleOptions struct {
	a provision.Autoscaler
}

func registerAutoscaleFlags(f *flags, o *autoscaleOptions) {
	a := &o.a
	f.durationVar(&a.Every, "autoscale-every", provision.DefaultAutoscaleEvery, "how often the leader looks at the live visits of pools that size themselves")
	f.durationVar(&a.GrowAfter, "autoscale-grow-after", provision.DefaultGrowAfter, "how long a pool must need more numbers (above 75% utilisation) before the leader buys them")
	f.durationVar(&a.ShrinkAfter, "autoscale-shrink-after", provision.DefaultShrinkAfter, "how long a pool must need a fifth fewer numbers, since its last change, before the leader releases idle ones")
	f.intVar(&a.DailyCap, "autoscale-daily-cap", provision.DefaultDailyCap, "most numbers the leader buys for one pool in any 24 hours")
}

func (o autoscaleOptions) validate() error {
	a := o.a
	if a.Every <= 0 || a.GrowAfter <= 0 || a.ShrinkAfter <= 0 || a.DailyCap <= 0 {
		return fmt.Errorf("--autoscale-every, --autoscale-grow-after, --autoscale-shrink-after and --autoscale-daily-cap must be positive")
	}
	return nil
}

// leaderLoop sizes the pools while the node leads.
func (o *autoscaleOptions) leaderLoop(log *slog.Logger) cluster.LeaderLoop {
	return func(ctx context.Context, n *cluster.Node) {
		a := o.a // a fresh watch for each term as leader
		a.Log = log.With("part", "autoscale")
		a.Run(ctx, n)
	}
}
