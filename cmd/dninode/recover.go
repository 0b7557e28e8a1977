package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// peer is one entry of raft/peers.json, in the form hashicorp/raft's
// ReadConfigJSON reads.
type peer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	NonVoter bool   `json:"non_voter"`
}

func peersJSONCmd(e *opEnv, args []string) error {
	f := e.flags()
	var out string
	var nonvoters []string
	f.plain((*stringValue)(&out), "out", "the file to write; on each remaining node it goes to <data-dir>/raft/peers.json")
	f.plain((*listValue)(&nonvoters), "nonvoter", "ids of the listed nodes that are non-voters, comma-separated or repeated")
	rest, err := e.parse(f, args, 1, -1)
	if err != nil {
		return err
	}
	if out == "" {
		return usagef("peers-json needs --out FILE")
	}
	peers, err := parsePeers(rest, nonvoters)
	if err != nil {
		return usageError{err: err}
	}
	b, err := json.MarshalIndent(peers, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(out, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(e.stdout, `wrote %s with %d nodes. To recover:
  1. stop every node of the cluster;
  2. copy the file to <data-dir>/raft/peers.json on each node listed, and on no other;
  3. start those nodes. Each applies the file once, renames it to peers.json.applied,
     and the nodes elect a leader among themselves.
`, out, len(peers))
	return nil
}

// parsePeers reads ID=RAFTADDR arguments into peers.json entries.
func parsePeers(args, nonvoters []string) ([]peer, error) {
	var peers []peer
	voters := 0
	for _, arg := range args {
		id, addr, ok := strings.Cut(arg, "=")
		if !ok || id == "" {
			return nil, fmt.Errorf("%q: give each node as ID=RAFTADDR", arg)
		}
		if !advertisable(addr) {
			return nil, fmt.Errorf("%q: the Raft address must be host:port", arg)
		}
		for _, p := range peers {
			if p.ID == id || p.Address == addr {
				return nil, fmt.Errorf("%q: node id and Raft address must each appear once", arg)
			}
		}
		p := peer{ID: id, Address: addr, NonVoter: slices.Contains(nonvoters, id)}
		if !p.NonVoter {
			voters++
		}
		peers = append(peers, p)
	}
	for _, id := range nonvoters {
		if !slices.ContainsFunc(peers, func(p peer) bool { return p.ID == id }) {
			return nil, fmt.Errorf("--nonvoter %s names no node listed", id)
		}
	}
	if voters == 0 {
		return nil, fmt.Errorf("at least one node must be a voter")
	}
	return peers, nil
}
