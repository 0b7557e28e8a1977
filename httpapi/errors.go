package httpapi

import (
	"context"
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/cluster"
	"github.com/dni-dev/dni/fsm"
)

// errorBody is every error response: {"error": "..."}, plus the field at
// fault for a validation error, and the leader's whereabouts when a request
// needs the leader.
type errorBody struct {
	Error      string `json:"error"`
	Field      string `json:"field,omitempty"`
	NotLeader  bool   `json:"not_leader,omitempty"`
	LeaderID   string `json:"leader_id,omitempty"`
	LeaderAddr string `json:"leader_addr,omitempty"` // its cluster port
	LeaderHTTP string `json:"leader_http,omitempty"`
}

func writeError(rc *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(rc, status, errorBody{Error: msg})
}

// errorStatuses says which status answers each error a caller branches on.
var errorStatuses = []struct {
	err    error
	status int
}{
	// The request was wrong.
	{allocator.ErrBadTime, fasthttp.StatusBadRequest},
	{allocator.ErrBadCall, fasthttp.StatusBadRequest},
	{allocator.ErrCorruptImage, fasthttp.StatusBadRequest},
	{fsm.ErrBadToken, fasthttp.StatusBadRequest},
	{fsm.ErrBadRole, fasthttp.StatusBadRequest},
	{fsm.ErrBadCommand, fasthttp.StatusBadRequest},
	{fsm.ErrUnknownCommand, fasthttp.StatusBadRequest},
	{fsm.ErrBadSnapshot, fasthttp.StatusBadRequest},
	{cluster.ErrBadJoin, fasthttp.StatusBadRequest},
	// What it names does not exist.
	{allocator.ErrUnknownPool, fasthttp.StatusNotFound},
	{allocator.ErrUnknownNumber, fasthttp.StatusNotFound},
	{allocator.ErrUnknownVisit, fasthttp.StatusNotFound},
	{allocator.ErrUnknownCall, fasthttp.StatusNotFound},
	{ErrUnknownWebhook, fasthttp.StatusNotFound},
	{ErrUnknownRecording, fasthttp.StatusNotFound},
	{ErrRecordingGone, fasthttp.StatusGone},
	{ErrNoRecordings, fasthttp.StatusNotFound}, // as the sandbox's calls where there is none
	{fsm.ErrUnknownToken, fasthttp.StatusNotFound},
	{cluster.ErrUnknownNode, fasthttp.StatusNotFound},
	// It conflicts with the state as it is.
	{allocator.ErrPoolDeleted, fasthttp.StatusConflict},
	{allocator.ErrPoolExists, fasthttp.StatusConflict},
	{allocator.ErrKeyInUse, fasthttp.StatusConflict},
	{allocator.ErrNumberInUse, fasthttp.StatusConflict},
	{allocator.ErrPoolFull, fasthttp.StatusConflict},
	{allocator.ErrNotGoogleClick, fasthttp.StatusConflict},
	{fsm.ErrTokenExists, fasthttp.StatusConflict},
	{fsm.ErrLastToken, fasthttp.StatusConflict},
	{cluster.ErrNotLeader, fasthttp.StatusConflict},
	{cluster.ErrRemoveLeader, fasthttp.StatusConflict},
	{cluster.ErrNoOtherVoter, fasthttp.StatusConflict},
	// The cluster cannot take it now; asking again may work.
	{cluster.ErrNoLeader, fasthttp.StatusServiceUnavailable},
	{cluster.ErrShuttingDown, fasthttp.StatusServiceUnavailable},
	{context.DeadlineExceeded, fasthttp.StatusServiceUnavailable},
}

// ErrorStatus is the HTTP status that answers an error from the cluster
// node or its state machine: 400 for a bad request or value, 404 for
// something missing, 409 for a conflict with the state, 503 when the
// cluster cannot take the request now, 500 for anything else. It is the one
// place such an error becomes a status; the admin pages use it too.
func ErrorStatus(err error) int {
	var ve *allocator.ValidationError
	if errors.As(err, &ve) {
		return fasthttp.StatusBadRequest
	}
	for _, e := range errorStatuses {
		if errors.Is(err, e.err) {
			return e.status
		}
	}
	return fasthttp.StatusInternalServerError
}

// writeErr answers an error from the cluster node or its state machine,
// with ErrorStatus, the field a validation error is about, and the leader
// when the request needs the leader.
func writeErr(rc *fasthttp.RequestCtx, err error) {
	body := errorBody{Error: err.Error()}
	var ve *allocator.ValidationError
	var nl *cluster.NotLeaderError
	switch {
	case errors.As(err, &ve):
		body.Field = ve.Field
	case errors.As(err, &nl):
		body.NotLeader, body.LeaderID, body.LeaderAddr, body.LeaderHTTP = true, nl.LeaderID, nl.LeaderAddr, nl.LeaderHTTP
	case errors.Is(err, context.DeadlineExceeded):
		body.Error = "the cluster did not answer in time"
	}
	writeJSON(rc, ErrorStatus(err), body)
}
