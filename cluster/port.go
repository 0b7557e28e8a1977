package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// A node's cluster port (--raft-addr) carries everything nodes say to each
// other: Raft's RPCs and the internal HTTP API (forwarded writes, joins,
// status, backups). Every connection is mutual TLS against the cluster CA,
// and its first byte after the handshake says which of the two it is. The
// handshake comes before anything else is read, so whoever cannot present
// a certificate of the cluster gets nothing but a failed handshake.
const (
	portRaft byte = 'R'
	portHTTP byte = 'H'
)

// handshakeTimeout bounds a connection's TLS handshake and its first
// byte: a client that stalls there holds nothing for long.
const handshakeTimeout = 5 * time.Second

// Dialer connects to other nodes' cluster ports: over TCP (or the network
// Dial gives), then TLS with the node's certificate.
type Dialer struct {
	TLS *TLS
	// Dial, if set, makes the connection under the TLS; tests use it to cut
	// links. The default dials TCP, looking the host up at every dial (a
	// node that restarts in a container comes back under its name at a new
	// address).
	Dial func(addr string, timeout time.Duration) (net.Conn, error)
}

func (d *Dialer) dial(addr string, timeout time.Duration, kind byte) (net.Conn, error) {
	dial := d.Dial
	if dial == nil {
		dial = func(addr string, timeout time.Duration) (net.Conn, error) {
			return net.DialTimeout("tcp", addr, timeout)
		}
	}
	raw, err := dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, d.TLS.ClientConfig())
	c.SetDeadline(time.Now().Add(min(timeout, handshakeTimeout)))
	if err := c.Handshake(); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS with %s: %w", addr, err)
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// DialHTTP connects to the internal HTTP API on a node's cluster port.
func (d *Dialer) DialHTTP(addr string, timeout time.Duration) (net.Conn, error) {
	return d.dial(addr, timeout, portHTTP)
}

// clusterPort accepts connections on the cluster port and hands each, once
// its handshake and first byte are in, to Raft or to the internal API.
type clusterPort struct {
	ln        net.Listener
	tls       *tls.Config
	advertise string
	dialer    *Dialer
	log       *slog.Logger
	raft      chan net.Conn
	http      chan net.Conn
	httpLn    *httpListener
	closed    chan struct{}
	closeOnce sync.Once
	// Refused counts connections that failed the handshake or named no
	// known use.
	refused atomic.Int64
}

func newClusterPort(ln net.Listener, advertise string, t *TLS, dial func(string, time.Duration) (net.Conn, error), log *slog.Logger) *clusterPort {
	p := &clusterPort{
		ln: ln, tls: t.ServerConfig(), advertise: advertise, dialer: &Dialer{TLS: t, Dial: dial}, log: log,
		raft: make(chan net.Conn), http: make(chan net.Conn), closed: make(chan struct{}),
	}
	p.httpLn = &httpListener{p: p, closed: make(chan struct{})}
	go p.accept()
	return p
}

func (p *clusterPort) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.log.Warn("cluster port: accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go p.sort(c)
	}
}

// sort finishes a connection's handshake, reads what it is for and hands
// it on; it refuses and closes anything else.
func (p *clusterPort) sort(raw net.Conn) {
	c := tls.Server(raw, p.tls)
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	var kind [1]byte
	err := c.Handshake()
	if err == nil {
		_, err = c.Read(kind[:])
	}
	if err == nil && kind[0] != portRaft && kind[0] != portHTTP {
		err = fmt.Errorf("unknown use %q", kind[0])
	}
	if err != nil {
		p.refused.Add(1)
		p.log.Warn("cluster port: refused a connection", "from", raw.RemoteAddr().String(), "err", err)
		raw.Close()
		return
	}
	c.SetDeadline(time.Time{})
	to := p.raft
	if kind[0] == portHTTP {
		to = p.http
	}
	var gone <-chan struct{}
	if kind[0] == portHTTP {
		gone = p.httpLn.closed
	}
	select {
	case to <- c:
	case <-gone:
		c.Close()
	case <-p.closed:
		c.Close()
	}
}

func (p *clusterPort) close() error {
	var err error
	p.closeOnce.Do(func() {
		close(p.closed)
		err = p.ln.Close()
	})
	return err
}

// raftStream is the cluster port as Raft's stream layer.
type raftStream struct{ p *clusterPort }

var _ raft.StreamLayer = raftStream{}

func (s raftStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.p.raft:
		return c, nil
	case <-s.p.closed:
		return nil, net.ErrClosed
	}
}

func (s raftStream) Close() error   { return s.p.close() }
func (s raftStream) Addr() net.Addr { return namedAddr(s.p.advertise) }

func (s raftStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.p.dialer.dial(string(addr), timeout, portRaft)
}

// httpListener is the cluster port as the internal API's listener. Closing
// it stops the internal API only; the port closes with the node.
type httpListener struct {
	p         *clusterPort
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *httpListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.p.http:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.p.closed:
		return nil, net.ErrClosed
	}
}

func (l *httpListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *httpListener) Addr() net.Addr { return namedAddr(l.p.advertise) }

// namedAddr is an address as the cluster records it: a host name or an IP
// address, with its port, looked up at every dial.
type namedAddr string

func (a namedAddr) Network() string { return "tcp" }
func (a namedAddr) String() string  { return string(a) }
