package web

import "net/http"

// The Settings page: what holds for the whole cluster rather than one
// pool. For now that is the cluster's voicemail, which every pool that
// uses it answers with; the currency and the conversion names stay on the
// Campaigns page, next to the report they are for.

type settingsPage struct {
	Flash          string
	Voicemail      voicemailForm // as saved, or as typed when it came back with a mistake
	VoicemailError *fieldError
	// The pools, not deleted, and how many of them use the cluster's
	// voicemail.
	Pools, PoolsOnDefault int
}

func (p *pages) settings(r *request) {
	page := newSettingsPage(r)
	if r.query("saved") == "voicemail" {
		page.Flash = "The cluster's voicemail saved: every pool that uses it answers with it from now on."
	}
	p.renderSettings(r, http.StatusOK, page)
}

func newSettingsPage(r *request) settingsPage {
	return settingsPage{Voicemail: voicemailFormOf(r.api.DefaultVoicemail())}
}

func (p *pages) renderSettings(r *request, status int, page settingsPage) {
	pools := r.api.Pools(false)
	page.Pools = len(pools)
	for _, pl := range pools {
		if pl.Voicemail.UseDefault {
			page.PoolsOnDefault++
		}
	}
	p.render(r, status, "settings.html", "Settings", "settings", page)
}

// setVoicemail saves the cluster's voicemail.
func (p *pages) setVoicemail(r *request) {
	f := readVoicemailForm(r)
	f.UseDefault = false // the cluster's is the default itself
	v, err := f.voicemail()
	if err == nil {
		ctx, cancel := writeContext()
		defer cancel()
		_, err = r.api.SetDefaultVoicemail(ctx, v)
	}
	if err != nil {
		fe, ok := asFieldError(err)
		if !ok {
			p.failErr(r, err)
			return
		}
		page := newSettingsPage(r)
		page.Voicemail, page.VoicemailError = f, fe
		p.renderSettings(r, http.StatusBadRequest, page)
		return
	}
	r.redirect("/admin/settings?saved=voicemail#cluster-voicemail")
}
