package httpapi

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/cluster"
)

// Admin is the admin API as Go functions, for one request. Each admin
// handler reads its request, calls one of these and writes the answer; the
// admin pages (package web) call the same ones. So a page can do nothing
// the API cannot, and both check what they are given alike.
type Admin struct {
	s    *Server
	base string // where websites load dni.js from, for the install tags
}

// Admin returns the admin API for a request its caller has already
// authorized (a bearer token, or an admin page's session).
func (s *Server) Admin(rc *fasthttp.RequestCtx) Admin {
	return Admin{s: s, base: s.publicURL(rc)}
}

// PublicURL is the base URL websites and Twilio reach the cluster at.
func (a Admin) PublicURL() string { return a.base }

// NodeID is the id of the node answering.
func (a Admin) NodeID() string { return a.s.node.ID() }

// Members lists the cluster's nodes, each with its own report.
func (a Admin) Members(ctx context.Context) ([]cluster.Member, error) {
	return a.s.node.Members(ctx)
}
