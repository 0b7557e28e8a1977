package web

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/httpapi"
)

// Ad spend on the Campaigns page: a day of spend typed in, a campaign
// report uploaded as the ad platform exports it, and a day deleted. The
// cluster keeps spend per day, source, medium and campaign; a day
// recorded again replaces what was there, so uploading the same report
// twice changes nothing.

// spendForm is a day of spend as typed.
type spendForm struct {
	Day, Source, Medium, Campaign, Cost string
}

// uploadForm is what the upload form says besides the file: the source
// and medium of its rows, which an ad platform's report does not name.
type uploadForm struct {
	Source, Medium string
}

// spend reads the typed day and cost; the cluster checks the rest.
func (f spendForm) spend() (allocator.Spend, error) {
	day, err := allocator.DayField("day", f.Day)
	if err != nil {
		return allocator.Spend{}, err
	}
	cost, err := allocator.ParseMoney("cost", f.Cost)
	if err != nil {
		return allocator.Spend{}, err
	}
	return allocator.Spend{SpendKey: allocator.SpendKey{Day: day, Source: f.Source, Medium: f.Medium, Campaign: f.Campaign}, Cost: cost}, nil
}

func (p *pages) addSpend(r *request) {
	q := period(r.form("from"), r.form("to"))
	f := spendForm{Day: r.trimmed("day"), Source: r.trimmed("source"), Medium: r.trimmed("medium"),
		Campaign: r.trimmed("campaign"), Cost: r.trimmed("cost")}
	row, err := f.spend()
	if err == nil {
		ctx, cancel := writeContext()
		defer cancel()
		_, err = r.api.AddSpend(ctx, []allocator.Spend{row})
	}
	if err != nil {
		p.campaignsMistake(r, q, err, func(page *campaignsPage, fe *fieldError) { page.NewSpend, page.SpendError = f, fe })
		return
	}
	r.redirect(campaignsURL(q, url.Values{"spent": {"1"}}, "spend"))
}

// spendUploadPath is where the spend CSV is uploaded: the one form whose
// body may be a file (httpapi.Server.AcceptUploads).
const spendUploadPath = "/admin/campaigns/spend/upload"

// uploadSpend records the days of spend in an uploaded CSV, all or none.
func (p *pages) uploadSpend(r *request) {
	q := period(r.form("from"), r.form("to"))
	f := uploadForm{Source: r.trimmed("source"), Medium: r.trimmed("medium")}
	n := 0
	data, err := uploaded(r, "file")
	if err == nil {
		var rows []allocator.Spend
		rows, err = httpapi.ParseSpendCSV(data, httpapi.SpendDefaults{Source: f.Source, Medium: f.Medium, Currency: r.api.Marketing().Currency})
		if err == nil {
			ctx, cancel := writeContext()
			defer cancel()
			n, err = r.api.AddSpend(ctx, rows)
		}
	}
	if err != nil {
		p.campaignsMistake(r, q, err, func(page *campaignsPage, fe *fieldError) { page.Upload, page.UploadError = f, fe })
		return
	}
	r.redirect(campaignsURL(q, url.Values{"spent": {strconv.Itoa(n)}}, "spend"))
}

// uploaded is the content of the file a form sent in a field.
func uploaded(r *request, field string) ([]byte, error) {
	fh, err := r.ctx.FormFile(field)
	switch {
	case errors.Is(err, fasthttp.ErrMissingFile), err == nil && fh.Size == 0:
		return nil, &allocator.ValidationError{Field: "csv", Reason: "choose the report to upload"}
	case err != nil:
		return nil, &allocator.ValidationError{Field: "csv", Reason: "could not be read (" + err.Error() + ")"}
	}
	file, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return io.ReadAll(file)
}

// deleteSpend forgets one day of spend, named by the hidden fields of its
// row's Delete button.
func (p *pages) deleteSpend(r *request) {
	q := period(r.form("from"), r.form("to"))
	day, ok := allocator.ParseDay(r.form("day"))
	if !ok {
		p.fail(r, http.StatusBadRequest, "This Delete button names no day. Reload the page and try again.")
		return
	}
	ctx, cancel := writeContext()
	defer cancel()
	n, err := r.api.DeleteSpend(ctx, allocator.SpendKey{Day: day, Source: r.form("source"), Medium: r.form("medium"), Campaign: r.form("campaign")})
	if err != nil {
		p.failErr(r, err)
		return
	}
	r.redirect(campaignsURL(q, url.Values{"unspent": {strconv.Itoa(n)}}, "spend"))
}
