package httpapi

import (
	"bytes"
	"encoding/csv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
)

// The offline click conversion files Google Ads and Microsoft Advertising
// import, as their own templates lay them out, served for their scheduled
// fetches (HTTP Basic with an export token) and for the Campaigns page's
// download buttons.
//
// A call that converted (by the pool's rule or by hand) and whose visit
// carried the platform's click id is one row, with the value it had when
// it first converted and the time its call started, so every fetch of
// the file repeats the row unchanged and the platform counts it once.
// A later change is an adjustment: Google Ads takes those in a file of
// their own (google-adjustments.csv: a restatement of the value, or a
// retraction for a call marked "none"); Microsoft Advertising's import
// template has no adjustment columns, so its file only ever adds.
//
// Times are UTC, declared in the Parameters line both templates start
// with, in the yyyy-MM-dd HH:mm:ss layout both accept.

// conversionWindow is how far back the files reach: both platforms take
// conversions up to 90 days after the click.
const conversionWindow = 90 * 24 * time.Hour

const conversionTimeLayout = "2006-01-02 15:04:05"

// ConversionFile names one of the files.
type ConversionFile string

// The files.
const (
	GoogleConversions    ConversionFile = "google.csv"
	GoogleAdjustments    ConversionFile = "google-adjustments.csv"
	MicrosoftConversions ConversionFile = "microsoft.csv"
)

func (s *Server) googleConversions(rc *fasthttp.RequestCtx, _ []string) {
	s.serveConversions(rc, GoogleConversions)
}

func (s *Server) googleAdjustments(rc *fasthttp.RequestCtx, _ []string) {
	s.serveConversions(rc, GoogleAdjustments)
}

func (s *Server) microsoftConversions(rc *fasthttp.RequestCtx, _ []string) {
	s.serveConversions(rc, MicrosoftConversions)
}

func (s *Server) serveConversions(rc *fasthttp.RequestCtx, f ConversionFile) {
	rc.SetContentType("text/csv; charset=utf-8")
	rc.Response.Header.Set("Cache-Control", "no-store")
	rc.Response.Header.Set("Content-Disposition", `attachment; filename="`+string(f)+`"`)
	rc.SetBody(s.Admin(rc).Conversions(f, time.Now()))
}

// Conversions is one of the files as of now.
func (a Admin) Conversions(f ConversionFile, now time.Time) []byte {
	state := a.s.node.State()
	m := state.Marketing()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	switch f {
	case GoogleConversions, GoogleAdjustments:
		buf.WriteString("Parameters:TimeZone=+0000\n")
	case MicrosoftConversions:
		buf.WriteString("Parameters:TimeZone=+0000;\n")
	}
	switch f {
	case GoogleConversions:
		w.Write([]string{"Google Click ID", "Conversion Name", "Conversion Time", "Conversion Value", "Conversion Currency"})
	case GoogleAdjustments:
		w.Write([]string{"Google Click ID", "Conversion Name", "Conversion Time", "Adjustment Time", "Adjustment Type", "Adjusted Value", "Adjusted Value Currency"})
	case MicrosoftConversions:
		w.Write([]string{"Microsoft Click ID", "Conversion Name", "Conversion Time", "Conversion Value", "Conversion Currency"})
	}
	since := now.Add(-conversionWindow)
	var rows [][]string
	state.Calls(func(c *allocator.Call) bool {
		if c.StartedAt.Before(since) {
			// Calls come newest first, in the order they were recorded,
			// which is their start give or take a call's length: a day
			// past the window, none later is in it.
			return c.StartedAt.After(since.Add(-24 * time.Hour))
		}
		if c.Conversion.At.IsZero() || c.Attribution == nil {
			return true
		}
		at := c.StartedAt.UTC().Format(conversionTimeLayout)
		switch f {
		case GoogleConversions:
			if allocator.PlausibleClickID(c.Attribution.GCLID) && c.Outcome.Converted() {
				rows = append(rows, []string{c.Attribution.GCLID, m.GoogleConversion, at, c.Conversion.Value.String(), c.Currency})
			}
		case GoogleAdjustments:
			if !allocator.PlausibleClickID(c.Attribution.GCLID) {
				break
			}
			adjusted := c.OutcomeAt.UTC().Format(conversionTimeLayout)
			switch {
			case !c.Outcome.Converted():
				rows = append(rows, []string{c.Attribution.GCLID, m.GoogleConversion, at, adjusted, "RETRACT", "", ""})
			case c.Value != c.Conversion.Value:
				rows = append(rows, []string{c.Attribution.GCLID, m.GoogleConversion, at, adjusted, "RESTATE", c.Value.String(), c.Currency})
			}
		case MicrosoftConversions:
			if allocator.PlausibleClickID(c.Attribution.MSCLKID) && c.Outcome.Converted() {
				rows = append(rows, []string{c.Attribution.MSCLKID, m.MicrosoftConversion, at, c.Conversion.Value.String(), c.Currency})
			}
		}
		return true
	})
	// Oldest first, as a person reading the file expects; Calls gives
	// newest first.
	for i := len(rows) - 1; i >= 0; i-- {
		w.Write(rows[i])
	}
	w.Flush()
	return buf.Bytes()
}
