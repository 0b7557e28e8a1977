package web

import (
	"net/http"
	"net/url"

	"github.com/dni-dev/dni/allocator"
	"github.com/dni-dev/dni/httpapi"
)

// The Webhooks pages: the endpoints dni POSTs call events to, and one
// endpoint with its settings, its delivery log and the events waiting for
// it. Operators read them; admins add, change, re-key and delete
// endpoints.
//
// An endpoint's secret is shown once: the cluster hands it back only to
// the change that set it. So adding an endpoint and replacing its secret
// answer with the endpoint's page itself rather than a redirect, and no
// address ever holds the secret.

// webhookForm is an endpoint's settings as the forms show and send them.
type webhookForm struct {
	Name, URL string
	Enabled   bool
}

type webhookListPage struct {
	Webhooks []httpapi.Webhook
	Flash    string
	New      webhookForm // the add form, as typed when it comes back with a mistake
	Error    *fieldError
}

type webhookPage struct {
	Webhook httpapi.Webhook
	Form    webhookForm // the edit form
	Error   *fieldError
	Flash   string
	Secret  string // the signing secret, on the answer to the form that set it only
}

// webhookLabels name an endpoint's fields as its forms do; "name" means
// another thing on the pool forms (fieldLabels).
var webhookLabels = map[string]string{"name": "Name", "url": "URL", "secret": "Secret"}

// webhookPath is an endpoint's page.
func webhookPath(id string) string { return "/admin/webhooks/" + url.PathEscape(id) }

func (p *pages) webhookList(r *request) {
	page := webhookListPage{Webhooks: r.api.Webhooks(), New: webhookForm{Enabled: true}}
	if r.query("deleted") != "" {
		page.Flash = "Endpoint deleted: nothing more is sent to it."
	}
	p.render(r, http.StatusOK, "webhooks.html", "Webhooks", "webhooks", page)
}

// addWebhook registers an endpoint, enabled, with a secret the cluster
// makes, and shows its page with that secret.
func (p *pages) addWebhook(r *request) {
	f := webhookForm{Name: r.trimmed("name"), URL: r.trimmed("url"), Enabled: true}
	ctx, cancel := writeContext()
	defer cancel()
	w, err := r.api.SetWebhook(ctx, allocator.SetEndpoint{Name: f.Name, URL: f.URL, Enabled: true}, true)
	if err != nil {
		fe, ok := fieldErrorIn(err, webhookLabels)
		if !ok {
			p.failErr(r, err)
			return
		}
		page := webhookListPage{Webhooks: r.api.Webhooks(), New: f, Error: fe}
		p.render(r, http.StatusBadRequest, "webhooks.html", "Webhooks", "webhooks", page)
		return
	}
	p.showWebhook(r, http.StatusCreated, w.ID, webhookPage{
		Flash:  "Endpoint added. dni sends it an event for every call that ends from now on, and for every change to a call's outcome, value or note.",
		Secret: w.Secret,
	})
}

func (p *pages) webhookPage(r *request) {
	var page webhookPage
	if r.query("saved") != "" {
		page.Flash = "Saved."
	}
	p.showWebhook(r, http.StatusOK, r.param(0), page)
}

// showWebhook renders an endpoint's page with what the form that led there
// adds: a flash, a mistake with the form as typed, a secret.
func (p *pages) showWebhook(r *request, status int, id string, page webhookPage) {
	w, err := r.api.Webhook(id)
	if err != nil {
		p.failErr(r, err)
		return
	}
	page.Webhook = w
	if page.Error == nil {
		page.Form = webhookForm{Name: w.Name, URL: w.URL, Enabled: w.Enabled}
	}
	p.render(r, status, "webhook.html", webhookTitle(w), "webhooks", page)
}

// webhookTitle names an endpoint, whose name may be empty.
func webhookTitle(w httpapi.Webhook) string {
	if w.Name != "" {
		return w.Name
	}
	return w.URL
}

// editWebhook changes an endpoint's name, URL and whether it is enabled;
// its secret stays.
func (p *pages) editWebhook(r *request) {
	id := r.param(0)
	// A change to an endpoint deleted meanwhile would register it again,
	// without a secret: the cluster would refuse it over the secret, which
	// the form does not show.
	if _, err := r.api.Webhook(id); err != nil {
		p.failErr(r, err)
		return
	}
	f := webhookForm{Name: r.trimmed("name"), URL: r.trimmed("url"), Enabled: r.form("enabled") != ""}
	ctx, cancel := writeContext()
	defer cancel()
	_, err := r.api.SetWebhook(ctx, allocator.SetEndpoint{ID: id, Name: f.Name, URL: f.URL, Enabled: f.Enabled}, false)
	if err != nil {
		fe, ok := fieldErrorIn(err, webhookLabels)
		if !ok {
			p.failErr(r, err)
			return
		}
		p.showWebhook(r, http.StatusBadRequest, id, webhookPage{Form: f, Error: fe})
		return
	}
	r.redirect(webhookPath(id) + "?saved=1")
}

// replaceWebhookSecret gives an endpoint a new secret, and shows it.
func (p *pages) replaceWebhookSecret(r *request) {
	ctx, cancel := writeContext()
	defer cancel()
	w, err := r.api.ReplaceWebhookSecret(ctx, r.param(0))
	if err != nil {
		p.failErr(r, err)
		return
	}
	p.showWebhook(r, http.StatusOK, w.ID, webhookPage{
		Flash:  "Secret replaced. Every request from now on, retries included, is signed with the new one: the receiver refuses them until it has it.",
		Secret: w.Secret,
	})
}

func (p *pages) webhookDeleteForm(r *request) {
	w, err := r.api.Webhook(r.param(0))
	if err != nil {
		p.failErr(r, err)
		return
	}
	p.render(r, http.StatusOK, "webhook-delete.html", "Delete "+webhookTitle(w), "webhooks", w)
}

func (p *pages) deleteWebhook(r *request) {
	ctx, cancel := writeContext()
	defer cancel()
	if err := r.api.DeleteWebhook(ctx, r.param(0)); err != nil {
		p.failErr(r, err)
		return
	}
	r.redirect("/admin/webhooks?deleted=1")
}
