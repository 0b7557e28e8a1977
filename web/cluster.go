package web

import (
	"net/http"
	"time"

	"github.com/dni-dev/dni/cluster"
)

// The Cluster page: the nodes, which one leads, whether each is healthy,
// when it last heard from the leader and how far it has applied the log.

type nodeRow struct {
	cluster.Member
	Health      string // "ready", "not ready" or why it did not answer
	Healthy     bool
	LastContact string
}

type clusterPage struct {
	Leader string
	This   string
	Nodes  []nodeRow
	Error  string
}

func (p *pages) cluster(r *request) {
	page := clusterPage{This: r.api.NodeID()}
	ctx, cancel := writeContext()
	defer cancel()
	members, err := r.api.Members(ctx)
	if err != nil {
		page.Error = "The cluster's members could not be read: " + err.Error()
	}
	for _, m := range members {
		row := nodeRow{Member: m}
		switch {
		case m.Status == nil:
			row.Health = "no answer: " + m.Error
		case m.Status.Ready:
			row.Health, row.Healthy = "ready", true
		default:
			row.Health = "not ready (" + m.Status.State + ")"
		}
		switch {
		case m.Leader:
			row.LastContact = "leads"
			page.Leader = m.ID
		case m.Status != nil && m.Status.LastContact > 0:
			row.LastContact = m.Status.LastContact.Round(time.Millisecond).String() + " ago"
		default:
			row.LastContact = "—"
		}
		page.Nodes = append(page.Nodes, row)
	}
	p.render(r, http.StatusOK, "cluster.html", "Cluster", "cluster", page)
}
