package testkit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
)

// network lets a test cut the links between the nodes of a Cluster, for
// Raft's traffic (real TCP, through linkLayer) and for the HTTP calls nodes
// make to each other (through cutPeers), both ways.
type network struct {
	mu      sync.Mutex
	blocked map[[2]string]bool // from, to
	conns   map[[2]string][]net.Conn
	raft    map[string]string // Raft address -> node id
	http    map[string]string // HTTP address -> node id
}

func newNetwork() *network {
	return &network{
		blocked: map[[2]string]bool{}, conns: map[[2]string][]net.Conn{},
		raft: map[string]string{}, http: map[string]string{},
	}
}

func (w *network) add(id, raftAddr, httpAddr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.raft[raftAddr] = id
	w.http[httpAddr] = id
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

// linkLayer is a raft.StreamLayer over TCP whose connections start with
// the dialling node's id, so that the network can refuse those it has cut.
type linkLayer struct {
	net.Listener
	w    *network
	self string
}

func (l *linkLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	to := l.w.idOf(l.w.raft, string(addr))
	if l.w.isBlocked(l.self, to) {
		return nil, fmt.Errorf("link %s->%s is cut", l.self, to)
	}
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	head := binary.AppendUvarint(nil, uint64(len(l.self)))
	if _, err := c.Write(append(head, l.self...)); err != nil {
		c.Close()
		return nil, err
	}
	l.w.track(l.self, to, c)
	return c, nil
}

func (l *linkLayer) Accept() (net.Conn, error) {
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

// cutPeers refuses the HTTP calls the network has cut and passes on the
// rest to the real client.
type cutPeers struct {
	cluster.Peers
	w    *network
	self string
}

func (p *cutPeers) check(addr string) error {
	if to := p.w.idOf(p.w.http, addr); p.w.isBlocked(p.self, to) {
		return fmt.Errorf("link %s->%s is cut", p.self, to)
	}
	return nil
}

func (p *cutPeers) Forward(ctx context.Context, addr string, entry []byte) ([]fsm.Receipt, error) {
	if err := p.check(addr); err != nil {
		return nil, err
	}
	return p.Peers.Forward(ctx, addr, entry)
}

func (p *cutPeers) Join(ctx context.Context, addr string, req cluster.JoinRequest) error {
	if err := p.check(addr); err != nil {
		return err
	}
	return p.Peers.Join(ctx, addr, req)
}

func (p *cutPeers) Status(ctx context.Context, addr string) (cluster.Status, error) {
	if err := p.check(addr); err != nil {
		return cluster.Status{}, err
	}
	return p.Peers.Status(ctx, addr)
}
