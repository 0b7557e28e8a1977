package httpapi

import (
	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/fsm"
)

// routes lists every endpoint the server answers: the one place to start
// looking for a behaviour. openapi.json describes the public ones.
func (s *Server) routes() {
	rt := &s.router
	get, post, patch, del := fasthttp.MethodGet, fasthttp.MethodPost, fasthttp.MethodPatch, fasthttp.MethodDelete

	rt.add(get, "/healthz", publicAccess, s.healthz)
	rt.add(fasthttp.MethodHead, "/healthz", publicAccess, s.healthz)
	rt.add(get, "/readyz", publicAccess, s.readyz)
	rt.add(fasthttp.MethodHead, "/readyz", publicAccess, s.readyz)
	rt.add(get, "/metrics", publicAccess, s.serveMetrics)
	rt.add(get, "/openapi.json", publicAccess, s.openAPI)

	// The snippet itself, and the visitor API it calls from any website.
	rt.add(get, "/dni.js", publicAccess, s.serveSnippet)
	rt.add(fasthttp.MethodHead, "/dni.js", publicAccess, s.serveSnippet)
	rt.add(post, "/v1/visits", visitorAccess, s.createVisit)
	rt.add(post, "/v1/visits/{visit}/heartbeat", visitorAccess, s.heartbeat)

	// The admin API, behind a bearer token whose role is at least the one
	// each route needs: reporting reads pools, numbers, visits, calls and
	// reports; operator also runs the cluster (members, leadership,
	// backups, restores) and lists tokens; admin also changes pools,
	// numbers and tokens. A token below the role gets 403.
	reporting, operator, admin := fsm.RoleReporting, fsm.RoleOperator, fsm.RoleAdmin
	rt.add(post, "/v1/pools", adminAccess, s.createPool).needs(admin)
	rt.add(get, "/v1/pools", adminAccess, s.listPools).needs(reporting)
	rt.add(get, "/v1/pools/{id}", adminAccess, s.getPool).needs(reporting)
	rt.add(patch, "/v1/pools/{id}", adminAccess, s.updatePool).needs(admin)
	rt.add(del, "/v1/pools/{id}", adminAccess, s.deletePool).needs(admin)
	rt.add(get, "/v1/pools/{id}/numbers", adminAccess, s.listNumbers).needs(reporting)
	rt.add(post, "/v1/pools/{id}/numbers", adminAccess, s.attachNumbers).needs(admin)
	rt.add(del, "/v1/pools/{id}/numbers/{number}", adminAccess, s.releaseNumber).needs(admin)
	rt.add(get, "/v1/pools/{id}/visits", adminAccess, s.listVisits).needs(reporting)
	rt.add(get, "/v1/calls", adminAccess, s.listCalls).needs(reporting)
	rt.add(get, "/v1/calls/{sid}", adminAccess, s.getCall).needs(reporting)
	rt.add(patch, "/v1/calls/{sid}", adminAccess, s.markCall).needs(admin)
	rt.add(get, "/v1/calls/{sid}/recordings/{rec}/audio", adminAccess, s.recordingAudio).needs(reporting)
	rt.add(del, "/v1/calls/{sid}/recordings/{rec}", adminAccess, s.deleteRecording).needs(admin)
	rt.add(get, "/v1/reports/calls", adminAccess, s.callReport).needs(reporting)
	rt.add(get, "/v1/reports/campaigns", adminAccess, s.campaignReport).needs(reporting)
	rt.add(get, "/v1/spend", adminAccess, s.listSpend).needs(reporting)
	rt.add(post, "/v1/spend", adminAccess, s.addSpend).needs(admin)
	rt.add(del, "/v1/spend", adminAccess, s.deleteSpend).needs(admin)
	rt.add(get, "/v1/webhooks", adminAccess, s.listWebhooks).needs(operator)
	rt.add(post, "/v1/webhooks", adminAccess, s.createWebhook).needs(admin)
	rt.add(get, "/v1/webhooks/{id}", adminAccess, s.getWebhook).needs(operator)
	rt.add(patch, "/v1/webhooks/{id}", adminAccess, s.updateWebhook).needs(admin)
	rt.add(del, "/v1/webhooks/{id}", adminAccess, s.deleteWebhook).needs(admin)
	rt.add(get, "/v1/settings/marketing", adminAccess, s.getMarketing).needs(reporting)
	rt.add(patch, "/v1/settings/marketing", adminAccess, s.setMarketing).needs(admin)
	rt.add(get, "/v1/settings/voicemail", adminAccess, s.getVoicemail).needs(reporting)
	rt.add(patch, "/v1/settings/voicemail", adminAccess, s.setVoicemail).needs(admin)
	rt.add(get, "/v1/cluster", adminAccess, s.members).needs(operator)
	rt.add(post, "/v1/cluster/nodes", adminAccess, s.join).needs(operator)
	rt.add(del, "/v1/cluster/nodes/{id}", adminAccess, s.remove).needs(operator)
	rt.add(post, "/v1/cluster/leader", adminAccess, s.transfer).needs(operator)
	rt.add(get, "/v1/cluster/snapshot", adminAccess, s.backup).needs(operator)
	rt.add(post, "/v1/cluster/restore", adminAccess, s.restore).needs(operator).bigBody = true
	rt.add(post, "/v1/sandbox/calls", adminAccess, s.sandboxCall).needs(admin)
	rt.add(get, "/v1/tokens", adminAccess, s.listTokens).needs(operator)
	rt.add(post, "/v1/tokens", adminAccess, s.createToken).needs(admin)
	rt.add(del, "/v1/tokens/{id}", adminAccess, s.deleteToken).needs(admin)

	// The offline conversion files the ad platforms fetch on a schedule,
	// behind HTTP Basic with an export token (or any admin token).
	rt.add(get, "/v1/conversions/google.csv", exportAccess, s.googleConversions).needs(fsm.RoleExport)
	rt.add(get, "/v1/conversions/google-adjustments.csv", exportAccess, s.googleAdjustments).needs(fsm.RoleExport)
	rt.add(get, "/v1/conversions/microsoft.csv", exportAccess, s.microsoftConversions).needs(fsm.RoleExport)

	// Twilio's webhooks, behind its request signature.
	rt.add(post, "/twilio/voice", twilioAccess, s.voice)
	rt.add(post, "/twilio/fallback", twilioAccess, s.voice)
	rt.add(post, "/twilio/dial", twilioAccess, s.dialEnded)
	rt.add(post, "/twilio/whisper", twilioAccess, s.whisper)
	rt.add(post, "/twilio/status", twilioAccess, s.callStatus)
	rt.add(post, "/twilio/voicemail", twilioAccess, s.voicemailEnded)
	rt.add(post, "/twilio/recording", twilioAccess, s.recordingStatus)
	rt.add(post, "/twilio/transcription", twilioAccess, s.transcription)

	// The internal API, served on the cluster port only (mutual TLS): nodes
	// forwarding writes and joining, and the operator's dninode commands.
	rt.add(post, "/internal/v1/apply", internalAccess, s.apply)
	rt.add(post, "/internal/v1/commands", internalAccess, s.command)
	rt.add(post, "/internal/v1/join", internalAccess, s.join)
	rt.add(get, "/internal/v1/status", internalAccess, s.status)
	rt.add(get, "/internal/v1/members", internalAccess, s.members)
	rt.add(post, "/internal/v1/members", internalAccess, s.join)
	rt.add(del, "/internal/v1/members/{id}", internalAccess, s.remove)
	rt.add(post, "/internal/v1/leader", internalAccess, s.transfer)
	rt.add(get, "/internal/v1/backup", internalAccess, s.backup)
	rt.add(post, "/internal/v1/restore", internalAccess, s.restore).bigBody = true
	rt.add(post, "/internal/v1/sandbox/calls", internalAccess, s.sandboxCall)
}
