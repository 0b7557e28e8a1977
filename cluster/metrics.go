package cluster

import (
	"sync"

	metrics "github.com/hashicorp/go-metrics/compat"
	metricsprom "github.com/hashicorp/go-metrics/compat/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

var metricsOnce sync.Once

// ExportRaftMetrics sends what hashicorp/raft and its bolt store measure
// (commit times, elections, log and snapshot sizes, bolt statistics) to reg,
// as Prometheus metrics named raft_... and dni_... . Raft keeps one process-
// wide metrics registry, so only the first call has an effect.
func ExportRaftMetrics(reg prometheus.Registerer) error {
	var err error
	metricsOnce.Do(func() {
		var sink *metricsprom.PrometheusSink
		sink, err = metricsprom.NewPrometheusSinkFrom(metricsprom.PrometheusOpts{Registerer: reg})
		if err != nil {
			return
		}
		conf := metrics.DefaultConfig("")
		conf.EnableHostname = false
		conf.EnableRuntimeMetrics = false // client_golang's Go collector covers these
		_, err = metrics.NewGlobal(conf, sink)
	})
	return err
}
