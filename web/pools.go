package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/httpapi"
	"github.com/dni-dev/dni/snippet"
)

// The phone numbers pages: every pool, one pool with its numbers and
// install snippet, the edit form, the delete confirmation, a simulated call
// and the demo page.

type poolRow struct {
	Pool    httpapi.Pool
	Numbers []httpapi.Number // in service
}

type poolListPage struct {
	Pools   []poolRow
	Deleted []httpapi.Pool
	Flash   string
}

// poolList is the Phone numbers page.
func (p *pages) poolList(r *request) {
	var page poolListPage
	for _, pl := range r.api.Pools(true) {
		if pl.Status == string(allocator.PoolDeleted) {
			page.Deleted = append(page.Deleted, pl)
			continue
		}
		ns, _ := r.api.Numbers(pl.ID)
		page.Pools = append(page.Pools, poolRow{Pool: pl, Numbers: inService(ns)})
	}
	if name := r.query("deleted"); name != "" {
		page.Flash = "Pool “" + name + "” deleted: its numbers are being released; its calls stay on the Calls and Campaigns pages."
	}
	p.render(r, http.StatusOK, "pools.html", "Phone numbers", "pools", page)
}

func inService(ns []httpapi.Number) []httpapi.Number {
	var out []httpapi.Number
	for _, n := range ns {
		if n.State == allocator.NumberActive.String() {
			out = append(out, n)
		}
	}
	return out
}

type poolPage struct {
	Pool      httpapi.Pool
	Numbers   []httpapi.Number // every number it ever had, in service first
	InService int
	Created   bool     // just made by the wizard: its step 4
	Saved     bool     // just edited
	Released  []string // numbers the edit took out of service
	Steps     []wizardStepName
	Currency  string // the cluster's, which the conversion rule's value is in
	// The budget of new visits in force, automatic values worked out.
	BudgetPerMinute, BudgetBurst int
	Answering                    string // how it answers calls, in a line
	// The advisor's windows ("7d", "30d"), and the size changes newest
	// first.
	UsageWindows []string
	SizeHistory  []httpapi.SizeChange
}

// poolPage shows one pool: while numbers are bought, the progress; once
// active, the install snippet; and its numbers.
func (p *pages) poolPage(r *request) {
	pl, err := r.api.Pool(r.param(0))
	if err != nil {
		p.failErr(r, err)
		return
	}
	ns, _ := r.api.Numbers(pl.ID)
	page := poolPage{Pool: pl, Numbers: inService(ns), Created: r.query("created") != "", Saved: r.query("saved") != "",
		Currency: r.api.Marketing().Currency, Answering: answeringSummary(pl, r.api.DefaultVoicemail())}
	for _, w := range allocator.UsageWindows {
		page.UsageWindows = append(page.UsageWindows, w.Name)
	}
	for i := len(pl.SizeHistory) - 1; i >= 0; i-- {
		page.SizeHistory = append(page.SizeHistory, pl.SizeHistory[i])
	}
	budget := allocator.Settings{Size: pl.Size, VisitsPerMinute: pl.VisitsPerMinute, VisitBurst: pl.VisitBurst}
	page.BudgetPerMinute, page.BudgetBurst = budget.Budget()
	page.InService = len(page.Numbers)
	for _, n := range ns {
		if n.State != allocator.NumberActive.String() {
			page.Numbers = append(page.Numbers, n)
		}
	}
	for _, n := range r.ctx.QueryArgs().PeekMulti("released") {
		if allocator.ValidE164(string(n)) {
			page.Released = append(page.Released, string(n))
		}
	}
	if page.Created {
		page.Steps = wizardSteps(4)
	}
	p.render(r, http.StatusOK, "pool.html", pl.Name, "pools", page)
}

// poolProgress is what the pool page polls while numbers are bought.
func (p *pages) poolProgress(r *request) {
	pl, err := r.api.Pool(r.param(0))
	if err != nil {
		r.ctx.SetStatusCode(http.StatusNotFound)
		return
	}
	b, _ := json.Marshal(map[string]any{
		"status": pl.Status, "numbers": pl.Stats.Numbers, "size": pl.Size, "notice": pl.Notice,
	})
	r.ctx.SetContentType("application/json")
	r.ctx.SetBody(b)
}

// poolForm is a pool's settings as the forms show and send them: text as
// typed, so that a form with a mistake comes back as it was sent.
type poolForm struct {
	Tracking          string
	Country           string // ISO 3166: the layouts the phone fields are read in
	Name              string
	Size              string
	AreaCode          string
	SwapTarget        string
	ForwardTo         []string
	Rings             string
	Overflow          string
	IdleTimeout       string // seconds
	AttributionWindow string // seconds
	Whisper           bool
	Allocation        string
	DisplaceAfter     string // seconds
	VisitsPerMinute   string // 0: automatic
	VisitBurst        string // 0: automatic
	AllowedOrigins    string // one a line; none: any website
	// The conversion rule.
	LeadRule        bool
	LeadMinDuration string // seconds
	LeadValue       string // as typed: "40", "1,250.50"
	// How it answers calls: the edit form's Calls section.
	Answering answeringForm
}

func formOf(pl httpapi.Pool) poolForm {
	return poolForm{
		Tracking: pl.Tracking, Country: pl.Country, Name: pl.Name, Size: strconv.Itoa(pl.Size), AreaCode: pl.AreaCode,
		SwapTarget: pl.SwapTarget, ForwardTo: append([]string{}, pl.ForwardTo...), Rings: strconv.Itoa(pl.Rings),
		Overflow: pl.Overflow, IdleTimeout: strconv.Itoa(pl.IdleTimeoutS),
		AttributionWindow: strconv.Itoa(pl.AttributionWindowS), Whisper: pl.Whisper, Allocation: pl.Allocation,
		DisplaceAfter: strconv.Itoa(pl.DisplaceAfterS), VisitsPerMinute: strconv.Itoa(pl.VisitsPerMinute),
		VisitBurst: strconv.Itoa(pl.VisitBurst), AllowedOrigins: strings.Join(pl.AllowedOrigins, "\n"),
		LeadRule: pl.LeadRule, LeadMinDuration: strconv.Itoa(pl.LeadMinDurationS),
		LeadValue: strconv.FormatFloat(pl.LeadValue, 'f', 2, 64),
		Answering: answeringFormOf(pl),
	}
}

// readPoolForm reads the fields a form sent. Forwarding numbers left empty
// are dropped.
func readPoolForm(r *request) poolForm {
	f := poolForm{
		Tracking: r.form("tracking"), Country: r.form("country"), Name: strings.TrimSpace(r.form("name")), Size: r.form("size"),
		AreaCode: strings.TrimSpace(r.form("area_code")), SwapTarget: strings.TrimSpace(r.form("swap_target")),
		Rings: r.form("rings"), Overflow: r.form("overflow"), IdleTimeout: r.form("idle_timeout_s"),
		AttributionWindow: r.form("attribution_window_s"), Whisper: r.form("whisper") != "",
		Allocation: r.form("allocation"), DisplaceAfter: r.form("displace_after_s"),
		VisitsPerMinute: r.form("visits_per_minute"), VisitBurst: r.form("visit_burst"),
		AllowedOrigins: r.form("allowed_origins"), LeadRule: r.form("lead_rule") != "",
		LeadMinDuration: r.form("lead_min_duration_s"), LeadValue: r.form("lead_value"),
		Answering: readAnsweringForm(r),
	}
	for _, n := range r.formAll("forward_to") {
		if n = strings.TrimSpace(n); n != "" {
			f.ForwardTo = append(f.ForwardTo, n)
		}
	}
	return f
}

// fieldError is a mistake in one field of a form.
type fieldError struct {
	Field   string // the setting's name, as in the API: "size", "forward_to"
	Message string
}

func (e *fieldError) Error() string { return e.Message }

// fieldLabels name the fields as the forms do: a pool's settings, a call's
// mark, a day of spend and the marketing settings.
var fieldLabels = map[string]string{
	"name": "Pool name", "tracking": "Tracking", "country": "Country", "size": "Pool size", "area_code": "Area code",
	"swap_target": "Number on your website", "forward_to": "Forwarding number", "rings": "Rings",
	"overflow": "When every number is in use", "idle_timeout_s": "Visit timeout",
	"attribution_window_s": "Attribution window", "allocation": "Which free number a visitor gets",
	"displace_after_s": "Protect a visitor seen within", "visits_per_minute": "New visits a minute",
	"visit_burst": "New visits at once", "allowed_origins": "Your websites",
	"lead_rule": "Conversion rule", "lead_min_duration_s": "Minimum call length", "lead_value": "Value of a lead",
	"outcome": "Outcome", "value": "Value", "note": "Note",
	"day": "Day", "source": "Source", "medium": "Medium", "campaign": "Campaign", "cost": "Cost",
	"csv": "The file", "spend": "Spend", "rows": "Spend",
	"currency": "Currency", "google_conversion": "Google Ads conversion name",
	"microsoft_conversion": "Microsoft Advertising conversion name",
	// The Calls section.
	"voicemail.greeting":           "Greeting",
	"voicemail.audio_url":          "Greeting audio",
	"voicemail.voice":              "Voice",
	"voicemail.language":           "Language",
	"voicemail.max_length_s":       "Longest message",
	"voicemail.transcribe":         "Transcribe messages",
	"hours.time_zone":              "Time zone",
	"hours.week":                   "Business hours",
	"hours.holidays":               "Holidays",
	"hours.after_hours_forward_to": "After-hours number",
	"hours.week.mon":               "Hours on Monday",
	"hours.week.tue":               "Hours on Tuesday",
	"hours.week.wed":               "Hours on Wednesday",
	"hours.week.thu":               "Hours on Thursday",
	"hours.week.fri":               "Hours on Friday",
	"hours.week.sat":               "Hours on Saturday",
	"hours.week.sun":               "Hours on Sunday",
	"recording.notice":             "Recording notice",
	"autoscale.min_size":           "Smallest size",
	"autoscale.max_size":           "Largest size",
}

// asFieldError words an error from the admin functions for the form, if it
// is about one field: its label, then what is wrong.
func asFieldError(err error) (*fieldError, bool) { return fieldErrorIn(err, fieldLabels) }

// fieldErrorIn is asFieldError with the labels of another form's fields.
func fieldErrorIn(err error, labels map[string]string) (*fieldError, bool) {
	var fe *fieldError
	if errors.As(err, &fe) {
		return fe, true
	}
	var ve *allocator.ValidationError
	if errors.As(err, &ve) {
		label := labels[ve.Field]
		if label == "" {
			label = ve.Field
		}
		return &fieldError{Field: ve.Field, Message: label + ": " + ve.Reason + "."}, true
	}
	return nil, false
}

// number reads a whole number a field holds. The settings' own rules
// (allocator.Settings.Validate) decide which numbers are fine.
func number(field, s string) (*int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return nil, &allocator.ValidationError{Field: field, Reason: "must be a whole number"}
	}
	return &n, nil
}

// secondsDuration is n seconds, or -1 (which no setting takes) for a
// number of seconds too large for a Duration.
func secondsDuration(n int) time.Duration {
	if n < 0 || n > 1<<32 {
		return -1
	}
	return time.Duration(n) * time.Second
}

// patch is the change to a pool's settings that the form's fields ask for;
// only the fields named are read.
func (f poolForm) patch(fields ...string) (allocator.Patch, error) {
	var pt allocator.Patch
	for _, field := range fields {
		switch field {
		case "tracking":
			t := allocator.Tracking(f.Tracking)
			pt.Tracking = &t
		case "country":
			pt.Country = &f.Country
		case "name":
			pt.Name = &f.Name
		case "size":
			n, err := number(field, f.Size)
			if err != nil {
				return pt, err
			}
			pt.Size = n
		case "area_code":
			pt.AreaCode = &f.AreaCode
		case "swap_target":
			pt.SwapTarget = &f.SwapTarget
		case "forward_to":
			pt.ForwardTo = append([]string{}, f.ForwardTo...)
		case "rings", "visits_per_minute", "visit_burst":
			v, dst := f.Rings, &pt.Rings
			switch field {
			case "visits_per_minute":
				v, dst = f.VisitsPerMinute, &pt.VisitsPerMinute
			case "visit_burst":
				v, dst = f.VisitBurst, &pt.VisitBurst
			}
			n, err := number(field, v)
			if err != nil {
				return pt, err
			}
			*dst = n
		case "overflow":
			o := allocator.Overflow(f.Overflow)
			pt.Overflow = &o
		case "idle_timeout_s", "attribution_window_s", "displace_after_s":
			v, dst := f.IdleTimeout, &pt.IdleTimeout
			switch field {
			case "attribution_window_s":
				v, dst = f.AttributionWindow, &pt.AttributionWindow
			case "displace_after_s":
				v, dst = f.DisplaceAfter, &pt.DisplaceAfter
			}
			n, err := number(field, v)
			if err != nil {
				return pt, err
			}
			d := secondsDuration(*n)
			*dst = &d
		case "whisper":
			pt.Whisper = &f.Whisper
		case "allowed_origins":
			pt.AllowedOrigins = httpapi.Origins(strings.Fields(f.AllowedOrigins))
		case "allocation":
			a := allocator.Allocation(f.Allocation)
			pt.Allocation = &a
		case "lead_rule":
			pt.LeadRule = &f.LeadRule
		case "lead_min_duration_s":
			n, err := number(field, f.LeadMinDuration)
			if err != nil {
				return pt, err
			}
			d := secondsDuration(*n)
			pt.LeadMinDuration = &d
		case "lead_value":
			v, err := allocator.ParseMoney(field, f.LeadValue)
			if err != nil {
				return pt, err
			}
			pt.LeadValue = &v
		case "answering":
			if err := f.Answering.patch(f.Country, &pt); err != nil {
				return pt, err
			}
		}
	}
	return pt, nil
}

// editFields are every setting the edit form holds.
var editFields = []string{
	"tracking", "country", "name", "size", "area_code", "swap_target", "forward_to", "rings",
	"allowed_origins", "overflow", "displace_after_s", "visits_per_minute", "visit_burst", "allocation",
	"idle_timeout_s", "attribution_window_s", "whisper", "lead_rule", "lead_min_duration_s", "lead_value",
	"answering",
}

type editPage struct {
	Pool       httpapi.Pool
	Currency   string // the cluster's, which the conversion rule's value is in
	Form       poolForm
	Countries  []countryChoice
	Forwarding []string // the forwarding fields to show: the numbers, then empty ones
	Error      *fieldError
	Other      string // an error about no one field
	// The cluster's voicemail in a line, offered instead of the pool's own.
	ClusterVoicemail string
	// The size preview: the numbers in service in the order a smaller size
	// releases them, and what the size in the form would do.
	ShrinkOrder []shrinkItem
	InService   int
	SizeEffect  string
}

// TimeZones are offered for the business hours' time zone.
func (editPage) TimeZones() []string { return commonTimeZones }

// leadRuleFields are what the conversion rule's fields show, in the edit
// form and the wizard's last step.
type leadRuleFields struct {
	Form     poolForm
	Error    *fieldError
	Currency string
}

func (e editPage) LeadRuleFields() leadRuleFields {
	return leadRuleFields{Form: e.Form, Error: e.Error, Currency: e.Currency}
}

type shrinkItem struct {
	Number  httpapi.Number
	Held    bool
	Release bool // the size in the form releases it
}

func (p *pages) editForm(r *request) {
	pl, err := r.api.Pool(r.param(0))
	if err != nil {
		p.failErr(r, err)
		return
	}
	if pl.Status == string(allocator.PoolDeleted) || pl.Status == string(allocator.PoolDeleting) {
		p.fail(r, http.StatusConflict, "This pool was deleted: it can no longer change.")
		return
	}
	p.renderEdit(r, http.StatusOK, pl, formOf(pl), nil)
}

func (p *pages) renderEdit(r *request, status int, pl httpapi.Pool, f poolForm, err error) {
	page := editPage{Pool: pl, Currency: r.api.Marketing().Currency, Form: f, Countries: countryChoices(f.Country),
		Forwarding: forwardingFields(f.ForwardTo), ClusterVoicemail: clusterVoicemailLine(r.api.DefaultVoicemail())}
	if err != nil {
		if fe, ok := asFieldError(err); ok {
			page.Error = fe
		} else {
			page.Other = err.Error()
		}
	}
	order, _ := r.api.ShrinkOrder(pl.ID)
	page.InService = len(order)
	newSize, sizeErr := strconv.Atoi(strings.TrimSpace(f.Size))
	release := 0
	if sizeErr == nil && newSize >= allocator.MinPoolSize && newSize <= allocator.MaxPoolSize {
		release = max(0, len(order)-newSize)
		page.SizeEffect = sizeEffect(pl.Size, len(order), newSize, pl.AreaCode)
	}
	for i, n := range order {
		page.ShrinkOrder = append(page.ShrinkOrder, shrinkItem{Number: n, Held: n.Visit != "", Release: i < release})
	}
	p.render(r, status, "edit.html", "Edit "+pl.Name, "pools", page)
}

// sizeEffect says what saving a new size does. The edit page's script says
// the same as the size field changes.
func sizeEffect(size, inService, newSize int, areaCode string) string {
	switch {
	case newSize < inService:
		k := inService - newSize
		return plural(k, "number is", "numbers are") + " released at once, in the order below: free numbers first, then those whose visitor was seen longest ago."
	case newSize > size:
		where := ""
		if areaCode != "" {
			where = " in area code " + areaCode
		}
		return plural(newSize-max(size, inService), "more number is", "more numbers are") + " bought" + where + "."
	case newSize < size:
		return plural(size-newSize, "number fewer is", "numbers fewer are") + " bought."
	}
	return "The size stays as it is."
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// forwardingFields are the forwarding number fields a form shows: the
// numbers given, and one more empty field while there is room for one.
func forwardingFields(ns []string) []string {
	out := append([]string{}, ns...)
	if len(out) < allocator.MaxForwardNumbers {
		out = append(out, "")
	}
	return out
}

func (p *pages) edit(r *request) {
	pl, err := r.api.Pool(r.param(0))
	if err != nil {
		p.failErr(r, err)
		return
	}
	f := readPoolForm(r)
	if f.Answering.Voicemail.UseDefault {
		// The pool's own voicemail waits, unused, as it was saved: what its
		// fields hold next to the cluster's choice is not read.
		f.Answering.Voicemail = voicemailFormOf(pl.Voicemail)
		f.Answering.Voicemail.UseDefault = true
	}
	pt, err := f.patch(editFields...)
	if err == nil {
		ctx, cancel := writeContext()
		defer cancel()
		var released []string
		_, released, err = r.api.UpdatePool(ctx, pl.ID, pt)
		if err == nil {
			q := url.Values{"saved": {"1"}}
			for _, n := range released {
				q.Add("released", n)
			}
			r.redirect("/admin/pools/" + url.PathEscape(pl.ID) + "?" + q.Encode())
			return
		}
	}
	if _, ok := asFieldError(err); !ok && !errors.Is(err, allocator.ErrPoolDeleted) {
		p.failErr(r, err)
		return
	}
	p.renderEdit(r, http.StatusBadRequest, pl, f, err)
}

type deletePage struct {
	Pool      httpapi.Pool
	InService int
}

func (p *pages) deleteForm(r *request) {
	pl, err := r.api.Pool(r.param(0))
	if err != nil {
		p.failErr(r, err)
		return
	}
	if pl.Status == string(allocator.PoolDeleted) || pl.Status == string(allocator.PoolDeleting) {
		p.fail(r, http.StatusConflict, "This pool is already deleted.")
		return
	}
	p.render(r, http.StatusOK, "delete.html", "Delete "+pl.Name, "pools", deletePage{Pool: pl, InService: pl.Stats.Numbers})
}

func (p *pages) delete(r *request) {
	ctx, cancel := writeContext()
	defer cancel()
	pl, err := r.api.DeletePool(ctx, r.param(0))
	if err != nil {
		p.failErr(r, err)
		return
	}
	r.redirect("/admin/pools?" + url.Values{"deleted": {pl.Name}}.Encode())
}

// callWait bounds a simulated call: its rings and talk are simulated, so
// only dni's own webhooks take real time.
const callWait = 15 * time.Second

type simulatedCallPage struct {
	Pool   httpapi.Pool
	Result httpapi.SandboxCall
}

// simulateCall places a call to one of the pool's numbers through the
// sandbox and shows what the caller and the agent heard and how dni
// recorded it.
func (p *pages) simulateCall(r *request) {
	pl, err := r.api.Pool(r.param(0))
	if err != nil {
		p.failErr(r, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), callWait)
	defer cancel()
	res, err := r.api.SandboxCall(ctx, r.param(1), "")
	switch {
	case errors.Is(err, httpapi.ErrNoSandbox):
		p.fail(r, http.StatusNotFound, "Simulated calls exist only in the sandbox: this node uses Twilio. Call the number from a phone.")
		return
	case err != nil:
		if fe, ok := asFieldError(err); ok {
			p.fail(r, http.StatusBadRequest, fe.Message)
			return
		}
		p.fail(r, http.StatusBadGateway, "The simulated call failed: "+err.Error())
		return
	}
	p.render(r, http.StatusOK, "simulated.html", "Simulated call", "pools", simulatedCallPage{Pool: pl, Result: res})
}

type demoPage struct {
	Pool      httpapi.Pool
	Src       string // dni.js at the public URL
	Integrity string
	GCLID     bool
	Tel       string // the swap target as a tel: link wants it
	Links     []demoLink
}

// demoGCLID is a click id of the form Google puts on an ad click, so that
// the demo of a Google-Ads-only pool gets a number.
const demoGCLID = "Cj0KCQiA4L67BhDUARIsADWrl7Fm3sNN-dni-demo-click-Ax0iOZs1rFWXwTN3TwTmL_aQ0qIaAkbhEALw_wcB"

type demoLink struct {
	Label string
	Query string
}

// demo is a page with the pool's snippet installed and its swap target on
// it, for trying the swap in the sandbox: open it, see the number change,
// then simulate a call to that number.
func (p *pages) demo(r *request) {
	pl, err := r.api.Pool(r.param(0))
	if err != nil {
		p.failErr(r, err)
		return
	}
	if !r.api.Sandboxed() {
		p.fail(r, http.StatusNotFound, "The demo page is for the sandbox. Put the pool's install tag on your own website instead.")
		return
	}
	base := r.api.PublicURL()
	page := demoPage{
		Pool: pl, Src: base + "/dni.js", Integrity: snippet.Get().Integrity, GCLID: pl.Tracking == string(allocator.TrackGCLID),
		Links: []demoLink{
			{"a Google ad", url.Values{"utm_source": {"google"}, "utm_medium": {"cpc"}, "utm_campaign": {"demo"}, "gclid": {demoGCLID}}.Encode()},
			{"a Facebook post", url.Values{"utm_source": {"facebook"}, "utm_medium": {"social"}, "utm_campaign": {"demo"}}.Encode()},
			{"a newsletter", url.Values{"utm_source": {"newsletter"}, "utm_medium": {"email"}, "utm_campaign": {"demo"}}.Encode()},
		},
	}
	page.Tel, _ = allocator.SwapTargetE164(pl.SwapTarget, pl.Country)
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		r.ctx.Response.Header.Set("Content-Security-Policy", contentSecurityPolicy(u.Scheme+"://"+u.Host))
	}
	p.renderBare(r, "demo.html", page)
}
