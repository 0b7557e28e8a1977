// Package standin is a Twilio stand-in: the REST API dni uses to buy and
// manage numbers, spoken as Twilio speaks it so that the real twilio-go
// client works against it, and a call simulator that calls dni's webhooks
// as Twilio would. Tests use it in place of Twilio, and dninode runs it as
// the sandbox when it has no Twilio credentials.
//
// It sells fictional numbers only: +1 AAA 555 0100 to 0199 in every valid
// area code. Faults (latency, rate limits, failures, numbers sold under
// the buyer, callees that do not answer) can be switched on at run time.
package standin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// AccountSID and AuthToken are the account's credentials; when both
	// are empty they are made up ("AC" and 32 hex digits, 32 hex digits),
	// or read back from StatePath.
	AccountSID, AuthToken string
	// StatePath, when set, is a JSON file holding the account's numbers
	// (and made-up credentials), rewritten atomically on every change and
	// read at start.
	StatePath string
	// Log receives the stand-in's logs; nil discards them.
	Log *slog.Logger
	// HTTPClient calls the webhooks; nil means one that, like Twilio,
	// waits 5 s to connect and 15 s in all.
	HTTPClient *http.Client
}

// Server is a Twilio stand-in for one account. Its methods are safe for
// concurrent use.
type Server struct {
	accountSID, authToken string
	madeCredentials       bool
	statePath             string
	log                   *slog.Logger
	hooks                 *http.Client
	handler               http.Handler

	mu   sync.Mutex
	held holdings

	fmu       sync.Mutex
	faults    Faults
	exhausted map[string]bool

	stats      counters
	calls      callLog
	recordings recordingStore

	// Calls run under ctx, cancelled by Close; running counts them.
	ctx     context.Context
	cancel  context.CancelFunc
	running sync.WaitGroup
	closeMu sync.RWMutex
	closed  bool

	srv *http.Server
	url string
}

// New returns a stand-in for the account in opts, with its numbers read
// from opts.StatePath if that file exists.
func New(opts Options) (*Server, error) {
	s := &Server{
		accountSID: opts.AccountSID, authToken: opts.AuthToken,
		statePath: opts.StatePath, log: opts.Log, hooks: opts.HTTPClient,
		held: newHoldings(), calls: newCallLog(maxCalls), recordings: newRecordingStore(maxRecordings),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hooks == nil {
		s.hooks = webhookClient()
	}
	if opts.StatePath != "" {
		st, err := s.loadState(opts.StatePath)
		if err != nil {
			return nil, fmt.Errorf("standin: %w", err)
		}
		if s.accountSID == "" && s.authToken == "" && st.AccountSID != "" {
			s.accountSID, s.authToken, s.madeCredentials = st.AccountSID, st.AuthToken, true
		}
	}
	if s.accountSID == "" && s.authToken == "" {
		s.accountSID, s.authToken, s.madeCredentials = newSID("AC"), newSID(""), true
	}
	if !validAccountSID(s.accountSID) {
		return nil, fmt.Errorf("standin: account SID %q is not \"AC\" followed by 32 letters or digits", s.accountSID)
	}
	if s.authToken == "" || !alphanumeric(s.authToken) {
		return nil, errors.New("standin: the auth token must be letters and digits, and not empty")
	}
	if err := s.saveLocked(); err != nil {
		return nil, fmt.Errorf("standin: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.handler = s.routes()
	return s, nil
}

// webhookClient waits for webhooks as Twilio does, and keeps enough idle
// connections for hundreds of calls a second to one host.
func webhookClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return &http.Client{Transport: t, Timeout: 15 * time.Second}
}

// AccountSID returns the account's SID.
func (s *Server) AccountSID() string { return s.accountSID }

// AuthToken returns the account's auth token, which signs the webhooks.
func (s *Server) AuthToken() string { return s.authToken }

// Handler serves the REST API under /2010-04-01/ and the sandbox's own
// endpoints under /sandbox/.
func (s *Server) Handler() http.Handler { return s.handler }

// Start serves Handler on addr ("127.0.0.1:0" picks a port) and returns
// the base URL to give twilio-go's rewriting transport.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("standin: %w", err)
	}
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed || s.srv != nil {
		ln.Close()
		return "", errors.New("standin: already started or closed")
	}
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ln.Addr().String()
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("stand-in stopped serving", "err", err)
		}
	}()
	s.log.Info("Twilio stand-in listening", "url", s.url, "account", s.accountSID)
	return s.url, nil
}

// URL returns the base URL Start serves on, or "".
func (s *Server) URL() string {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	return s.url
}

// Close ends the calls under way (their webhooks are abandoned), waits for
// them and stops serving.
func (s *Server) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	s.cancel()
	s.running.Wait()
	if s.srv != nil {
		return s.srv.Close()
	}
	return nil
}

// authorized checks HTTP Basic credentials and that the account in the
// path, if any, is the one they are for.
func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.accountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.authToken)) != 1 {
		return false
	}
	account := r.PathValue("AccountSid")
	return account == "" || account == s.accountSID
}

// apiVersion is the API version Twilio reports in webhooks and resources.
const apiVersion = "2010-04-01"

// maxForm bounds request bodies, which are small forms.
const maxForm = 1 << 20

// rest wraps a REST handler with what Twilio does first: the latency
// fault, authentication, counting, and the rate-limit and failure faults.
func (s *Server) rest(k kind, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d := s.latency(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if !s.authorized(r) {
			s.stats.refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			writeError(w, errAuth())
			return
		}
		s.stats.byKind[k].Add(1)
		if e := s.requestFault(); e != nil {
			writeError(w, e)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			writeError(w, apiError(http.StatusBadRequest, codeInvalidParameter, "Invalid form: %v", err))
			return
		}
		h(w, r)
	}
}

// sandbox wraps the sandbox's own endpoints: authentication only.
func (s *Server) sandbox(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			s.stats.refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
			writeError(w, errAuth())
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		h(w, r)
	}
}

func (s *Server) routes() http.Handler {
	const acct = "/2010-04-01/Accounts/{AccountSid}"
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+acct+"/AvailablePhoneNumbers/{Country}/Local.json", s.rest(kindSearch, s.search))
	mux.HandleFunc("GET "+acct+"/AvailablePhoneNumbers/{Country}/Mobile.json", s.rest(kindSearch, s.searchMobile))
	mux.HandleFunc("GET "+acct+"/IncomingPhoneNumbers.json", s.rest(kindList, s.list))
	mux.HandleFunc("POST "+acct+"/IncomingPhoneNumbers.json", s.rest(kindBuy, s.buy))
	mux.HandleFunc("GET "+acct+"/IncomingPhoneNumbers/{Sid}", s.rest(kindFetch, s.fetchNumber))
	mux.HandleFunc("POST "+acct+"/IncomingPhoneNumbers/{Sid}", s.rest(kindUpdate, s.update))
	mux.HandleFunc("DELETE "+acct+"/IncomingPhoneNumbers/{Sid}", s.rest(kindRelease, s.release))
	mux.HandleFunc("GET "+acct+"/Recordings/{Sid}", s.rest(kindRecording, s.fetchRecording))
	mux.HandleFunc("DELETE "+acct+"/Recordings/{Sid}", s.rest(kindRecording, s.deleteRecording))
	mux.HandleFunc("/2010-04-01/", s.rest(kindOther, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound(r.URL.Path))
	}))

	const box = "/sandbox/Accounts/{AccountSid}"
	mux.HandleFunc("POST "+box+"/Calls.json", s.sandbox(s.placeCallHTTP))
	mux.HandleFunc("GET "+box+"/Calls/{Sid}", s.sandbox(s.callHTTP))
	mux.HandleFunc("GET /sandbox/faults", s.sandbox(s.faultsHTTP))
	mux.HandleFunc("POST /sandbox/faults", s.sandbox(s.setFaultsHTTP))
	mux.HandleFunc("GET /sandbox/stats", s.sandbox(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound(r.URL.Path))
	})
	return mux
}

// jsonSID returns the {Sid} path segment without its ".json" suffix, or
// "" when the suffix is missing.
func jsonSID(r *http.Request) string {
	sid, ok := strings.CutSuffix(r.PathValue("Sid"), ".json")
	if !ok {
		return ""
	}
	return sid
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, apiError(http.StatusInternalServerError, codeInternal, "encode answer: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, e *Error) {
	b, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.Status)
	w.Write(b)
}

func (s *Server) faultsHTTP(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

func (s *Server) setFaultsHTTP(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
		writeError(w, apiError(http.StatusBadRequest, codeInvalidParameter, "Invalid faults: %v", err))
		return
	}
	s.SetFaults(f)
	writeJSON(w, http.StatusOK, s.Faults())
}
