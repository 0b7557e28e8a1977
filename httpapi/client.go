package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
	"github.com/dni-dev/dni/provision/standin"
)

// Client calls other nodes' internal API on their cluster ports (mutual
// TLS, see cluster.Dialer): nodes use it to forward writes and join (it
// implements cluster.Peers), operators' sub-commands to run the cluster.
type Client struct {
	http *fasthttp.Client
}

// NewClient returns a client that connects with d.
func NewClient(d *cluster.Dialer) *Client {
	return &Client{http: &fasthttp.Client{
		Name:                "dni-node",
		MaxConnsPerHost:     256,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        30 * time.Second,
		MaxIdleConnDuration: time.Minute,
		MaxResponseBodySize: maxBackupBody,
		// A node that is gone must not hold a write for long. The dialer
		// looks names up afresh each time: a node restarted in a container
		// or a pod comes back under its name at a new address.
		Dial: func(addr string) (net.Conn, error) { return d.DialHTTP(addr, 2*time.Second) },
	}}
}

var _ cluster.Peers = (*Client)(nil)

// do sends one internal request and returns the body of a 2xx answer. Other
// answers become errors: a *cluster.NotLeaderError for 409, else the
// server's message.
func (c *Client) do(ctx context.Context, method, addr, path, contentType string, body []byte) ([]byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + "/internal/v1" + path)
	req.Header.SetMethod(method)
	if contentType != "" {
		req.Header.SetContentType(contentType)
	}
	req.SetBody(body)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	if err := c.http.DoDeadline(req, resp, deadline); err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, addr, err)
	}
	out := append([]byte(nil), resp.Body()...)
	status := resp.StatusCode()
	if status >= 200 && status < 300 {
		return out, nil
	}
	var e errorBody
	if json.Unmarshal(out, &e) != nil || e.Error == "" {
		e.Error = fmt.Sprintf("HTTP %d", status)
	}
	if status == fasthttp.StatusConflict && e.NotLeader {
		return nil, &cluster.NotLeaderError{LeaderID: e.LeaderID, LeaderAddr: e.LeaderAddr, LeaderHTTP: e.LeaderHTTP}
	}
	return nil, &StatusError{Status: status, Message: e.Error}
}

// StatusError is an error answer from another node.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

// Forward hands a log entry to the leader at addr (cluster.Peers).
func (c *Client) Forward(ctx context.Context, addr string, entry []byte) ([]fsm.Receipt, error) {
	body, err := c.do(ctx, "POST", addr, "/apply", "application/octet-stream", entry)
	if err != nil {
		return nil, err
	}
	return fsm.DecodeReceipts(body)
}

// Command commits one command through the node at addr, which forwards it
// to the leader if it must.
func (c *Client) Command(ctx context.Context, addr string, cmd fsm.Command) (fsm.Receipt, error) {
	body, err := c.do(ctx, "POST", addr, "/commands", "application/octet-stream", fsm.Encode(cmd))
	if err != nil {
		return fsm.Receipt{}, err
	}
	rs, err := fsm.DecodeReceipts(body)
	if err != nil {
		return fsm.Receipt{}, err
	}
	if len(rs) != 1 {
		return fsm.Receipt{}, errors.New("expected one receipt")
	}
	return rs[0], nil
}

// Join asks the node at addr to add a node.
func (c *Client) Join(ctx context.Context, addr string, req cluster.JoinRequest) error {
	body, _ := json.Marshal(req)
	_, err := c.do(ctx, "POST", addr, "/join", "application/json", body)
	return err
}

// Status asks the node at addr for its view of the cluster.
func (c *Client) Status(ctx context.Context, addr string) (cluster.Status, error) {
	var st cluster.Status
	body, err := c.do(ctx, "GET", addr, "/status", "", nil)
	if err == nil {
		err = json.Unmarshal(body, &st)
	}
	return st, err
}

// Members lists the cluster's nodes, as the node at addr sees them.
func (c *Client) Members(ctx context.Context, addr string) ([]cluster.Member, error) {
	var ms []cluster.Member
	body, err := c.do(ctx, "GET", addr, "/members", "", nil)
	if err == nil {
		err = json.Unmarshal(body, &ms)
	}
	return ms, err
}

// Remove takes a node out of the cluster.
func (c *Client) Remove(ctx context.Context, addr, id string) error {
	_, err := c.do(ctx, "DELETE", addr, "/members/"+url.PathEscape(id), "", nil)
	return err
}

// TransferLeadership hands leadership to node id, or any voter if empty.
func (c *Client) TransferLeadership(ctx context.Context, addr, id string) error {
	body, _ := json.Marshal(map[string]string{"id": id})
	_, err := c.do(ctx, "POST", addr, "/leader", "application/json", body)
	return err
}

// Backup downloads a snapshot of the state.
func (c *Client) Backup(ctx context.Context, addr string) ([]byte, error) {
	return c.do(ctx, "GET", addr, "/backup", "", nil)
}

// Restore replaces the cluster's state with a snapshot.
func (c *Client) Restore(ctx context.Context, addr string, snapshot []byte) error {
	_, err := c.do(ctx, "POST", addr, "/restore", "application/octet-stream", snapshot)
	return err
}

// SandboxCall is a simulated call as POST /v1/sandbox/calls answers it.
type SandboxCall struct {
	SID   string            `json:"sid"`
	Trace standin.CallTrace `json:"trace"`
	Call  *Call             `json:"call"` // nil if the node had not recorded it yet
}

// PlaceSandboxCall places a simulated call to a tracking number through the
// node's sandbox and returns once it is over.
func (c *Client) PlaceSandboxCall(ctx context.Context, addr, to, from string) (SandboxCall, error) {
	body, _ := json.Marshal(map[string]string{"to": to, "from": from})
	b, err := c.do(ctx, "POST", addr, "/sandbox/calls", "application/json", body)
	if err != nil {
		return SandboxCall{}, err
	}
	var out SandboxCall
	if err := json.Unmarshal(b, &out); err != nil {
		return SandboxCall{}, fmt.Errorf("read the sandbox's answer: %w", err)
	}
	return out, nil
}
