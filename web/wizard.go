package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/httpapi"
)

// The pool wizard: Settings > Phone Numbers > Add Number > Campaign Pool,
// in the brief's four steps. Each step is one form that carries the other
// steps' answers as hidden fields, so Back and Next never lose input and
// no script is needed. A step is checked before the next one shows, by the
// same rules the API applies (httpapi.Admin.NewPoolSettings), with
// stand-ins for the answers of the steps still to come.

// wizardStepNames are the brief's steps.
var wizardStepNames = []string{"Tracking", "Setup", "Forwarding", "Done"}

// stepFields are the settings each step asks for. Step 4, the review,
// also asks for the conversion rule, which most pools keep as it comes.
var stepFields = [][]string{
	1: {"tracking"},
	2: {"country", "name", "size", "area_code", "swap_target", "allowed_origins"},
	3: {"forward_to", "rings"},
	4: {"lead_rule", "lead_min_duration_s", "lead_value"},
}

// lastStep is the review, where the pool is created.
const lastStep = 4

// wizardFields are every setting the wizard asks for; the others take
// their defaults, which the edit form changes.
var wizardFields = slices.Concat(stepFields[1:]...)

// defaultWizardSize is the size the wizard suggests: enough for about 200
// visitors an hour who stay 3 minutes each (Nimbata's rule: peak visitors
// an hour ÷ (60 ÷ minutes per visit)).
const defaultWizardSize = 10

// laterSteps stands in for the answers of steps not reached yet: valid
// values, so that checking the settings so far finds only what is wrong
// with them.
var laterSteps = poolForm{
	Tracking: string(allocator.TrackAll), Country: allocator.DefaultCountry, Name: "New pool", Size: strconv.Itoa(allocator.MinPoolSize),
	SwapTarget: "(201) 555-0100", ForwardTo: []string{"+12015550100"}, Rings: strconv.Itoa(allocator.DefaultRings),
	LeadMinDuration: strconv.Itoa(int(allocator.DefaultLeadMinDuration / time.Second)), LeadValue: "0",
}

type wizardStepName struct {
	N       int
	Name    string
	Current bool
	Done    bool
}

func wizardSteps(current int) []wizardStepName {
	out := make([]wizardStepName, len(wizardStepNames))
	for i, name := range wizardStepNames {
		out[i] = wizardStepName{N: i + 1, Name: name, Current: i+1 == current, Done: i+1 < current}
	}
	return out
}

type wizardPage struct {
	Currency   string // the cluster's, which the conversion rule's value is in
	Step       int
	Steps      []wizardStepName
	Form       poolForm
	Countries  []countryChoice // step 2
	Forwarding []string
	Error      *fieldError
	Other      string
	Review     allocator.Settings // step 4: the pool as it will be made
	// Step 4: the budget of new visits it will have.
	BudgetPerMinute, BudgetBurst int
}

func (w wizardPage) LeadRuleFields() leadRuleFields {
	return leadRuleFields{Form: w.Form, Error: w.Error, Currency: w.Currency}
}

func (p *pages) wizardStart(r *request) {
	f := poolForm{Tracking: string(allocator.TrackAll), Country: allocator.DefaultCountry, Size: strconv.Itoa(defaultWizardSize), Rings: strconv.Itoa(allocator.DefaultRings)}
	// The conversion rule as a new pool has it unless step 4 says.
	defaults, _ := r.api.NewPoolSettings(allocator.Patch{})
	f.LeadRule = defaults.LeadRule
	f.LeadMinDuration = strconv.Itoa(int(defaults.LeadMinDuration / time.Second))
	f.LeadValue = defaults.LeadValue.String()
	p.renderWizard(r, http.StatusOK, 1, f, nil)
}

// wizardStep answers a step's Back, Next or Create.
func (p *pages) wizardStep(r *request) {
	f := readPoolForm(r)
	step, _ := strconv.Atoi(r.form("step"))
	step = min(max(step, 1), len(wizardStepNames))
	switch r.form("go") {
	case "back":
		p.renderWizard(r, http.StatusOK, max(step-1, 1), f, nil)
	case "create":
		if bad, err := checkSteps(r.api, f, lastStep); err != nil {
			p.renderWizard(r, http.StatusBadRequest, bad, f, err)
			return
		}
		pt, _ := f.patch(wizardFields...)
		ctx, cancel := writeContext()
		defer cancel()
		pl, err := r.api.CreatePool(ctx, pt)
		if err != nil {
			if _, ok := asFieldError(err); ok {
				p.renderWizard(r, http.StatusBadRequest, lastStep, f, err)
				return
			}
			p.failErr(r, err)
			return
		}
		r.redirect("/admin/pools/" + url.PathEscape(pl.ID) + "?created=1")
	default: // next
		if bad, err := checkSteps(r.api, f, step); err != nil {
			p.renderWizard(r, http.StatusBadRequest, bad, f, err)
			return
		}
		p.renderWizard(r, http.StatusOK, min(step+1, len(wizardStepNames)), f, nil)
	}
}

// checkSteps checks the answers of steps 1 to last, with stand-ins for the
// later ones, and returns the first step with a mistake and the mistake.
func checkSteps(api httpapi.Admin, f poolForm, last int) (int, error) {
	g := laterSteps
	for step := 1; step <= min(last, lastStep); step++ {
		for _, field := range stepFields[step] {
			copyField(&g, f, field)
		}
	}
	pt, err := g.patch(wizardFields...)
	if err == nil {
		_, err = api.NewPoolSettings(pt)
	}
	if err == nil {
		return 0, nil
	}
	fe, ok := asFieldError(err)
	if !ok {
		return last, err
	}
	for step := 1; step <= lastStep; step++ {
		if slices.Contains(stepFields[step], fe.Field) {
			return step, fe
		}
	}
	return last, fe
}

func copyField(dst *poolForm, src poolForm, field string) {
	switch field {
	case "tracking":
		dst.Tracking = src.Tracking
	case "country":
		dst.Country = src.Country
	case "name":
		dst.Name = src.Name
	case "size":
		dst.Size = src.Size
	case "area_code":
		dst.AreaCode = src.AreaCode
	case "swap_target":
		dst.SwapTarget = src.SwapTarget
	case "allowed_origins":
		dst.AllowedOrigins = src.AllowedOrigins
	case "forward_to":
		dst.ForwardTo = src.ForwardTo
	case "rings":
		dst.Rings = src.Rings
	case "lead_rule":
		dst.LeadRule = src.LeadRule
	case "lead_min_duration_s":
		dst.LeadMinDuration = src.LeadMinDuration
	case "lead_value":
		dst.LeadValue = src.LeadValue
	}
}

func (p *pages) renderWizard(r *request, status, step int, f poolForm, err error) {
	// The business number is usually where calls should go too.
	if step == 3 && len(f.ForwardTo) == 0 {
		if e, err := allocator.SwapTargetE164(f.SwapTarget, f.Country); err == nil {
			f.ForwardTo = []string{e}
		}
	}
	page := wizardPage{Currency: r.api.Marketing().Currency, Step: step, Steps: wizardSteps(step), Form: f,
		Countries: countryChoices(f.Country), Forwarding: forwardingFields(f.ForwardTo)}
	if err != nil {
		if fe, ok := asFieldError(err); ok {
			page.Error = fe
		} else {
			page.Other = err.Error()
		}
	}
	if step == lastStep {
		// The review shows what steps 1 to 3 chose; the conversion rule's
		// fields, on this step, show themselves, mistakes included.
		if pt, err := f.patch(slices.Concat(stepFields[1:lastStep]...)...); err == nil {
			page.Review, _ = r.api.NewPoolSettings(pt)
			page.BudgetPerMinute, page.BudgetBurst = page.Review.Budget()
		}
	}
	p.render(r, status, "wizard.html", "Add campaign pool", "pools", page)
}
