package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/httpapi"
)

// The Calls page: every call, newest first, with its attribution and what
// it was worth, filtered by pool, source, medium, campaign and dates, and
// exported as CSV. A call's own page shows all of it and marks the call:
// lead, sale or none, its value and a note. Each row of the list has a
// small form that marks it too, through the same handler. A message the
// caller left shows on both, played through the node; an admin deletes a
// recording from the call's page.

// callsPerPage is how many calls the page shows at once.
const callsPerPage = 50

// dateLayout is how the date fields send a day.
const dateLayout = "2006-01-02"

// callQuery is the Calls page's filter as its form sends it.
type callQuery struct {
	Pool, Source, Medium, Campaign string
	From, To                       string // days, as dateLayout, both included
}

func readCallQuery(r *request) callQuery {
	return callQuery{
		Pool: r.query("pool"), Source: r.query("source"), Medium: r.query("medium"), Campaign: r.query("campaign"),
		From: r.query("from"), To: r.query("to"),
	}
}

// filter is the query as the admin functions take it. Days are UTC days;
// the To day is included. A day that does not parse is reported and left
// out of the filter.
func (q callQuery) filter() (httpapi.CallFilter, string) {
	f := httpapi.CallFilter{Pool: q.Pool, Source: q.Source, Medium: q.Medium, Campaign: q.Campaign}
	var problem string
	if q.From != "" {
		if d, err := time.Parse(dateLayout, q.From); err == nil {
			f.From = d
		} else {
			problem = "The From date is not a date; it was left out."
		}
	}
	if q.To != "" {
		if d, err := time.Parse(dateLayout, q.To); err == nil {
			f.To = d.AddDate(0, 0, 1)
		} else {
			problem = "The To date is not a date; it was left out."
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		f.To, problem = time.Time{}, "The To date is before the From date; it was left out."
	}
	return f, problem
}

// values is the query in a URL, without empty fields.
func (q callQuery) values() url.Values {
	v := url.Values{}
	for name, value := range map[string]string{
		"pool": q.Pool, "source": q.Source, "medium": q.Medium, "campaign": q.Campaign, "from": q.From, "to": q.To,
	} {
		if value != "" {
			v.Set(name, value)
		}
	}
	return v
}

type callRow struct {
	httpapi.Call
	PoolName  string
	Marked    bool                   // just marked from this list
	Voicemail *httpapi.CallRecording // the message the caller left, if any
}

// voicemailOf is the last message left on a call, or nil.
func voicemailOf(c httpapi.Call) *httpapi.CallRecording {
	for i := len(c.Recordings) - 1; i >= 0; i-- {
		if c.Recordings[i].Kind == string(allocator.RecordingVoicemail) {
			return &c.Recordings[i]
		}
	}
	return nil
}

type callsPage struct {
	Query   callQuery
	Problem string
	Pools   []httpapi.Pool
	Calls   []callRow
	CSV     string // the export of the same calls
	Older   string // the next page, if any
	Here    string // this page's address, where a row's mark form comes back to
	Marked  *httpapi.Call
}

func (p *pages) calls(r *request) {
	q := readCallQuery(r)
	f, problem := q.filter()
	before := -1
	if v, err := strconv.Atoi(r.query("before")); err == nil && v >= 0 {
		before = v
	}
	pools := r.api.Pools(true)
	names := map[string]string{}
	for _, pl := range pools {
		names[pl.ID] = pl.Name
	}
	res := r.api.Calls(f, callsPerPage, before)
	page := callsPage{Query: q, Problem: problem, Pools: pools, CSV: "/admin/calls.csv"}
	if v := q.values(); len(v) > 0 {
		page.CSV += "?" + v.Encode()
	}
	marked := r.query("marked")
	var here fasthttp.Args
	r.ctx.QueryArgs().CopyTo(&here)
	here.Del("marked")
	page.Here = "/admin/calls"
	if here.Len() > 0 {
		page.Here += "?" + here.String()
	}
	if c, err := r.api.Call(marked); marked != "" && err == nil {
		page.Marked = &c
	}
	for _, c := range res.Calls {
		page.Calls = append(page.Calls, callRow{Call: c, PoolName: names[c.Pool], Marked: c.SID == marked, Voicemail: voicemailOf(c)})
	}
	if res.Next >= 0 {
		v := q.values()
		v.Set("before", strconv.Itoa(res.Next))
		page.Older = "/admin/calls?" + v.Encode()
	}
	p.render(r, http.StatusOK, "calls.html", "Calls", "calls", page)
}

// callsCSV is the export: every call the filter keeps, as the API's CSV
// (what visitors chose is defused for spreadsheets there).
func (p *pages) callsCSV(r *request) {
	f, _ := readCallQuery(r).filter()
	r.ctx.Response.Header.Set("Content-Disposition", `attachment; filename="calls.csv"`)
	r.ctx.SetContentType("text/csv; charset=utf-8")
	r.ctx.SetBody(r.api.CallsCSV(f))
}

type callPage struct {
	Call             httpapi.Call
	PoolName         string
	Currency         string // the cluster's: a value is entered in it
	Form             markForm
	Error            *fieldError
	Other            string // an error about no one field
	Saved            bool
	Voicemail        bool // the caller left a message
	RecordingDeleted bool // a recording was just deleted
}

// markForm is the mark form's fields as typed.
type markForm struct {
	Outcome string // "lead", "sale", "none", or empty: not judged
	Value   string
	Note    string
}

func markFormOf(c httpapi.Call) markForm {
	f := markForm{Outcome: c.Outcome, Note: c.Note}
	if c.Value != nil {
		f.Value = strconv.FormatFloat(*c.Value, 'f', 2, 64)
	}
	return f
}

// call is a call's page.
func (p *pages) call(r *request) {
	c, err := r.api.Call(r.param(0))
	if err != nil {
		p.failCall(r, err)
		return
	}
	p.renderCall(r, http.StatusOK, c, markFormOf(c), nil)
}

func (p *pages) renderCall(r *request, status int, c httpapi.Call, f markForm, err error) {
	page := callPage{Call: c, Currency: r.api.Marketing().Currency, Form: f, Saved: r.query("saved") != "",
		Voicemail: voicemailOf(c) != nil, RecordingDeleted: r.query("recording_deleted") != ""}
	if pl, perr := r.api.Pool(c.Pool); perr == nil {
		page.PoolName = pl.Name
	}
	if err != nil {
		if fe, ok := asFieldError(err); ok {
			page.Error = fe
		} else {
			page.Other = err.Error()
		}
	}
	p.render(r, status, "call.html", "Call from "+httpapi.Display(c.From), "calls", page)
}

// failCall shows what an error about a call means.
func (p *pages) failCall(r *request, err error) {
	if errors.Is(err, allocator.ErrUnknownCall) {
		p.fail(r, http.StatusNotFound, "There is no such call.")
		return
	}
	p.failErr(r, err)
}

// markCall records the form's verdict on a call, from its page or from a
// row of the Calls list (whose form says where to go back to). A mistake
// shows the call's page with the form as it was sent, and writes nothing.
func (p *pages) markCall(r *request) {
	c, err := r.api.Call(r.param(0))
	if err != nil {
		p.failCall(r, err)
		return
	}
	// A field the form does not have (the list's has no note) stays as the
	// call has it.
	f := markFormOf(c)
	for field, typed := range map[string]*string{"outcome": &f.Outcome, "value": &f.Value, "note": &f.Note} {
		if r.formHas(field) {
			*typed = r.form(field)
		}
	}
	f.Note = strings.ReplaceAll(f.Note, "\r\n", "\n")
	m, err := f.mark(c)
	if err == nil && m.Set != 0 {
		ctx, cancel := writeContext()
		defer cancel()
		_, err = r.api.MarkCall(ctx, m)
	}
	if err != nil {
		if _, ok := asFieldError(err); !ok {
			p.failCall(r, err)
			return
		}
		p.renderCall(r, http.StatusBadRequest, c, f, err)
		return
	}
	if back := r.form("back"); back != "" {
		u, err := url.Parse(localPage(back))
		if err != nil {
			u = &url.URL{Path: "/admin/calls"}
		}
		q := u.Query()
		q.Set("marked", c.SID)
		u.RawQuery, u.Fragment = q.Encode(), "call-"+c.SID
		r.redirect(u.String())
		return
	}
	r.redirect("/admin/calls/" + url.PathEscape(c.SID) + "?saved=1")
}

// mark is the change the form asks for: the fields that differ from the
// call's. Saving a note alone thus leaves a lead the pool's rule made to
// the rule, and a form sent twice changes nothing the second time. An
// empty value is no value; an empty outcome leaves the outcome as it is
// (nobody can un-judge a call).
func (f markForm) mark(c httpapi.Call) (allocator.CallMark, error) {
	m := allocator.CallMark{SID: c.SID, At: time.Now()}
	if f.Outcome != "" && f.Outcome != c.Outcome {
		m.Set |= allocator.MarkOutcome
		m.Outcome = allocator.CallOutcome(f.Outcome)
	}
	var value, had allocator.Money
	if v := strings.TrimSpace(f.Value); v != "" {
		var err error
		if value, err = allocator.ParseMoney("value", v); err != nil {
			return m, err
		}
	}
	if c.Value != nil {
		had, _ = allocator.MoneyFrom("value", *c.Value)
	}
	if value != had {
		m.Set |= allocator.MarkValue
		m.Value = value
	}
	if f.Note != c.Note {
		m.Set |= allocator.MarkNote
		m.Note = f.Note
	}
	return m, nil
}

// audioTimeout bounds playing one recording through the node: the longest
// message, ten minutes, is a few megabytes.
const audioTimeout = 2 * time.Minute

// recordingAudioPath is where the pages play a call's recording.
func recordingAudioPath(call, rec string) string {
	return "/admin/calls/" + url.PathEscape(call) + "/recordings/" + url.PathEscape(rec) + "/audio"
}

// recordingAudio plays a call's recording: the node fetches it from the
// provider with the account's credentials and passes it on, so the audio
// never has a public link and no browser keeps a copy.
func (p *pages) recordingAudio(r *request) {
	ctx, cancel := context.WithTimeout(context.Background(), audioTimeout)
	body, ctype, err := r.api.RecordingAudio(ctx, r.param(0), r.param(1))
	if err != nil {
		cancel()
		p.failRecording(r, err)
		return
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	r.ctx.Response.Header.Set("Cache-Control", "private, no-store")
	r.ctx.SetContentType(ctype)
	r.ctx.SetBodyStream(&cancelOnClose{ReadCloser: body, cancel: cancel}, -1)
}

// cancelOnClose ends the fetch's context once fasthttp has sent the body
// and closes it.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}

// deleteRecording deletes a call's recording at the provider and marks it
// deleted; its transcript goes with it.
func (p *pages) deleteRecording(r *request) {
	ctx, cancel := writeContext()
	defer cancel()
	c, err := r.api.DeleteRecording(ctx, r.param(0), r.param(1))
	if err != nil {
		p.failRecording(r, err)
		return
	}
	r.redirect("/admin/calls/" + url.PathEscape(c.SID) + "?recording_deleted=1#recordings")
}

// failRecording shows what an error about a recording means.
func (p *pages) failRecording(r *request, err error) {
	switch {
	case errors.Is(err, httpapi.ErrNoRecordings):
		p.fail(r, http.StatusNotFound, "Recordings cannot be played or deleted on this node: it has no telephony provider to fetch them from. The recording is kept at the provider.")
	case errors.Is(err, httpapi.ErrRecordingGone):
		p.fail(r, http.StatusGone, "This recording was deleted, or holds no audio.")
	case errors.Is(err, httpapi.ErrUnknownRecording):
		p.fail(r, http.StatusNotFound, "This call has no such recording.")
	default:
		p.failCall(r, err)
	}
}
