package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dni-dev/dni/httpapi"
)

// The Campaigns page's part about telling the ad platforms: the offline
// conversion files Google Ads and Microsoft Advertising import, to
// download, and the cluster's marketing settings they carry: the currency
// of every value and spend, and the name of each platform's conversion
// action. The platforms fetch the same files themselves from the API
// (/v1/conversions/, HTTP Basic with an export token); the page says how.

// conversionFiles are the files the page offers.
var conversionFiles = []httpapi.ConversionFile{httpapi.GoogleConversions, httpapi.GoogleAdjustments, httpapi.MicrosoftConversions}

// conversions is one of the files, as of now.
func (p *pages) conversions(r *request) {
	f := httpapi.ConversionFile(r.param(0))
	if !slices.Contains(conversionFiles, f) {
		p.fail(r, http.StatusNotFound, "There is no such file.")
		return
	}
	r.ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+string(f)+`"`)
	r.ctx.SetContentType("text/csv; charset=utf-8")
	r.ctx.SetBody(r.api.Conversions(f, time.Now()))
}

// setMarketing saves the currency and the conversion names. The currency
// may be typed in lower case; the names are kept as typed, trimmed, since
// the platforms match them exactly.
func (p *pages) setMarketing(r *request) {
	q := period(r.form("from"), r.form("to"))
	m := httpapi.Marketing{
		Currency:         strings.ToUpper(r.trimmed("currency")),
		GoogleConversion: r.trimmed("google_conversion"), MicrosoftConversion: r.trimmed("microsoft_conversion"),
	}
	ctx, cancel := writeContext()
	defer cancel()
	if _, err := r.api.SetMarketing(ctx, m); err != nil {
		p.campaignsMistake(r, q, err, func(page *campaignsPage, fe *fieldError) { page.Marketing, page.MarketingError = m, fe })
		return
	}
	r.redirect(campaignsURL(q, url.Values{"marketing": {"saved"}}, "settings"))
}
