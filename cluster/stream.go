package cluster

import (
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// namedStream is Raft's TCP stream layer for a node that advertises a host
// name instead of an IP address. The cluster records a node's Raft address
// in its configuration, and raft's own TCP transport resolves the advertised
// name once, at start; in Docker and Kubernetes a restarted node comes back
// with a new IP under the same name, so the name is what must be recorded,
// and resolved again on every dial.
type namedStream struct {
	net.Listener
	advertise namedAddr
}

// listenNamed listens on bind and advertises advertise (host:port).
func listenNamed(bind, advertise string) (*namedStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	return &namedStream{Listener: ln, advertise: namedAddr(advertise)}, nil
}

func (s *namedStream) Addr() net.Addr { return s.advertise }

func (s *namedStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}

type namedAddr string

func (a namedAddr) Network() string { return "tcp" }
func (a namedAddr) String() string  { return string(a) }

// isHostName reports whether addr's host is a name rather than an IP
// address.
func isHostName(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && net.ParseIP(host) == nil
}
