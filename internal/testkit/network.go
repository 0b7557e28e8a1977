package testkit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// network lets a test cut the links between the nodes of a Cluster, both
// ways: everything nodes say to each other goes through their cluster
// ports, so a cut link carries neither Raft nor internal HTTP calls.
type network struct {
	mu      sync.Mutex
	blocked map[[2]string]bool // from, to
	conns   map[[2]string][]net.Conn
	raft    map[string]string // cluster port address -> node id
}

func newNetwork() *network {
	return &network{
		blocked: map[[2]string]bool{}, conns: map[[2]string][]net.Conn{},
		raft: map[string]string{},
	}
}

func (w *network) add(id, raftAddr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.raft[raftAddr] = id
}

func (w *network) isBlocked(from, to string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.blocked[[2]string{from, to}]
}

// cut blocks traffic between every node of a and every node of b, both
// ways, and drops the connections already open between them.
func (w *network) cut(a, b []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			for _, pair := range [][2]string{{x, y}, {y, x}} {
				w.blocked[pair] = true
				for _, c := range w.conns[pair] {
					c.Close()
				}
				delete(w.conns, pair)
			}
		}
	}
}

// heal restores every link.
func (w *network) heal() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.blocked = map[[2]string]bool{}
}

func (w *network) track(from, to string, c net.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conns[[2]string{from, to}] = append(w.conns[[2]string{from, to}], c)
}

func (w *network) idOf(addrs map[string]string, addr string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return addrs[addr]
}

// cutListener is a node's cluster port listener whose connections start,
// under their TLS, with the dialling node's id, so that the network can
// refuse those it has cut.
type cutListener struct {
	net.Listener
	w    *network
	self string
}

func (l *cutListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		from, err := readID(c)
		if err != nil || l.w.isBlocked(from, l.self) {
			c.Close()
			continue
		}
		l.w.track(from, l.self, c)
		return c, nil
	}
}

// dialer connects node self to another node's cluster port, unless the
// network has cut the link, and says who is calling.
func (w *network) dialer(self string) func(addr string, timeout time.Duration) (net.Conn, error) {
	return func(addr string, timeout time.Duration) (net.Conn, error) {
		to := w.idOf(w.raft, addr)
		if w.isBlocked(self, to) {
			return nil, fmt.Errorf("link %s->%s is cut", self, to)
		}
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return nil, err
		}
		head := binary.AppendUvarint(nil, uint64(len(self)))
		if _, err := c.Write(append(head, self...)); err != nil {
			c.Close()
			return nil, err
		}
		w.track(self, to, c)
		return c, nil
	}
}

func readID(c net.Conn) (string, error) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return "", err
	}
	if b[0] > 64 {
		return "", errors.New("bad id length")
	}
	id := make([]byte, b[0])
	_, err := io.ReadFull(c, id)
	return string(id), err
}
