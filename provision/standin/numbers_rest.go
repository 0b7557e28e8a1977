package standin

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// numberResource is an IncomingPhoneNumber as Twilio's API writes it.
type numberResource struct {
	AccountSID             string            `json:"account_sid"`
	AddressRequirements    string            `json:"address_requirements"`
	AddressSID             *string           `json:"address_sid"`
	APIVersion             string            `json:"api_version"`
	Beta                   bool              `json:"beta"`
	BundleSID              *string           `json:"bundle_sid"`
	Capabilities           heldCaps          `json:"capabilities"`
	DateCreated            string            `json:"date_created"`
	DateUpdated            string            `json:"date_updated"`
	EmergencyAddressSID    *string           `json:"emergency_address_sid"`
	EmergencyAddressStatus string            `json:"emergency_address_status"`
	EmergencyStatus        string            `json:"emergency_status"`
	FriendlyName           string            `json:"friendly_name"`
	IdentitySID            *string           `json:"identity_sid"`
	Origin                 string            `json:"origin"`
	PhoneNumber            string            `json:"phone_number"`
	SID                    string            `json:"sid"`
	SMSApplicationSID      string            `json:"sms_application_sid"`
	SMSFallbackMethod      string            `json:"sms_fallback_method"`
	SMSFallbackURL         string            `json:"sms_fallback_url"`
	SMSMethod              string            `json:"sms_method"`
	SMSURL                 string            `json:"sms_url"`
	Status                 string            `json:"status"`
	StatusCallback         string            `json:"status_callback"`
	StatusCallbackMethod   string            `json:"status_callback_method"`
	SubresourceURIs        map[string]string `json:"subresource_uris"`
	TrunkSID               *string           `json:"trunk_sid"`
	URI                    string            `json:"uri"`
	VoiceApplicationSID    string            `json:"voice_application_sid"`
	VoiceCallerIDLookup    bool              `json:"voice_caller_id_lookup"`
	VoiceFallbackMethod    string            `json:"voice_fallback_method"`
	VoiceFallbackURL       string            `json:"voice_fallback_url"`
	VoiceMethod            string            `json:"voice_method"`
	VoiceReceiveMode       string            `json:"voice_receive_mode"`
	VoiceURL               string            `json:"voice_url"`
}

type heldCaps struct {
	Voice bool `json:"voice"`
	SMS   bool `json:"sms"`
	MMS   bool `json:"mms"`
	Fax   bool `json:"fax"`
}

type numberList struct {
	IncomingPhoneNumbers []numberResource `json:"incoming_phone_numbers"`
	page
}

// rfc2822 is how Twilio writes dates in the 2010 API.
const rfc2822 = time.RFC1123Z

func (s *Server) numberURI(sid string) string {
	return "/2010-04-01/Accounts/" + s.accountSID + "/IncomingPhoneNumbers/" + sid + ".json"
}

func (s *Server) resource(n Number) numberResource {
	uri := s.numberURI(n.SID)
	return numberResource{
		AccountSID:             s.accountSID,
		AddressRequirements:    "none",
		APIVersion:             apiVersion,
		Capabilities:           heldCaps{Voice: true, SMS: true, MMS: true},
		DateCreated:            n.DateCreated.UTC().Format(rfc2822),
		DateUpdated:            n.DateUpdated.UTC().Format(rfc2822),
		EmergencyAddressStatus: "unregistered",
		EmergencyStatus:        "Inactive",
		FriendlyName:           n.FriendlyName,
		Origin:                 "twilio",
		PhoneNumber:            n.PhoneNumber,
		SID:                    n.SID,
		SMSFallbackMethod:      http.MethodPost,
		SMSMethod:              http.MethodPost,
		Status:                 "in-use",
		StatusCallback:         n.StatusCallback,
		StatusCallbackMethod:   n.StatusCallbackMethod,
		SubresourceURIs:        map[string]string{"assigned_add_ons": strings.TrimSuffix(uri, ".json") + "/AssignedAddOns.json"},
		URI:                    uri,
		VoiceFallbackMethod:    n.VoiceFallbackMethod,
		VoiceFallbackURL:       n.VoiceFallbackURL,
		VoiceMethod:            n.VoiceMethod,
		VoiceReceiveMode:       "voice",
		VoiceURL:               n.VoiceURL,
	}
}

// list pages through the held numbers in the order bought. A PageToken
// ("PA" and the last number's place) keeps pages from skipping or
// repeating numbers when numbers come and go between pages.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.Form
	size, e := pageSize(q.Get("PageSize"))
	if e != nil {
		writeError(w, e)
		return
	}
	number, err := strconv.Atoi(q.Get("Page"))
	if q.Get("Page") == "" {
		number, err = 0, nil
	}
	if err != nil || number < 0 {
		writeError(w, apiError(http.StatusBadRequest, codeInvalidParameter, "Page %q is not a number", q.Get("Page")))
		return
	}
	filters := url.Values{}
	for _, k := range []string{"PhoneNumber", "FriendlyName"} {
		if v := q.Get(k); v != "" {
			filters.Set(k, v)
		}
	}
	var matched []record
	s.mu.Lock()
	for _, rec := range s.held.sorted() {
		if matchPhone(filters.Get("PhoneNumber"), rec.PhoneNumber) &&
			(filters.Get("FriendlyName") == "" || filters.Get("FriendlyName") == rec.FriendlyName) {
			matched = append(matched, *rec)
		}
	}
	s.mu.Unlock()

	start := min(number, len(matched)/size+1) * size
	if token := q.Get("PageToken"); token != "" {
		after, err := strconv.ParseUint(strings.TrimPrefix(token, "PA"), 10, 64)
		if err != nil || !strings.HasPrefix(token, "PA") {
			writeError(w, apiError(http.StatusBadRequest, codeInvalidParameter, "PageToken %q is invalid", token))
			return
		}
		start = sort.Search(len(matched), func(i int) bool { return matched[i].Seq > after })
	}
	start = min(start, len(matched))
	end := min(start+size, len(matched))
	answer := numberList{IncomingPhoneNumbers: make([]numberResource, 0, end-start)}
	for _, rec := range matched[start:end] {
		answer.IncomingPhoneNumbers = append(answer.IncomingPhoneNumbers, s.resource(rec.Number))
	}
	path := r.URL.Path
	answer.page = page{
		URI: pageURI(path, filters, size, number, q.Get("PageToken")), FirstPageURI: pageURI(path, filters, size, 0, ""),
		Page: number, PageSize: size, Start: start, End: max(end-1, start),
	}
	if end < len(matched) {
		next := pageURI(path, filters, size, number+1, "PA"+strconv.FormatUint(matched[end-1].Seq, 10))
		answer.NextPageURI = &next
	}
	if number > 0 {
		prev := pageURI(path, filters, size, number-1, "")
		answer.PreviousPageURI = &prev
	}
	writeJSON(w, http.StatusOK, answer)
}

// matchPhone is Twilio's PhoneNumber filter: the pattern anywhere in the
// number, "*" standing for any one digit.
func matchPhone(pattern, number string) bool {
	for i := 0; i+len(pattern) <= len(number); i++ {
		match := true
		for j := 0; j < len(pattern) && match; j++ {
			match = pattern[j] == '*' || pattern[j] == number[i+j]
		}
		if match {
			return true
		}
	}
	return false
}

// buy buys PhoneNumber, or the first number for sale in AreaCode.
func (s *Server) buy(w http.ResponseWriter, r *http.Request) {
	f := r.Form
	phone, ac := f.Get("PhoneNumber"), f.Get("AreaCode")
	switch {
	case phone == "" && ac == "":
		writeError(w, apiError(http.StatusBadRequest, codeBadPhoneNumber, "A 'PhoneNumber' or 'AreaCode' is required"))
		return
	case phone != "" && !validE164(phone):
		writeError(w, apiError(http.StatusBadRequest, codeBadPhoneNumber, "The PhoneNumber %s is invalid", phone))
		return
	case phone == "" && !validAreaCode(ac):
		writeError(w, apiError(http.StatusBadRequest, codeBadAreaCode, "AreaCode %q is not a valid North American area code", ac))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if phone == "" {
		if found := s.forSaleLocked(ac); found != "" {
			phone = found
		} else {
			writeError(w, apiError(http.StatusBadRequest, codeNoNumbers, "No phone numbers found in area code %s", ac))
			return
		}
	}
	if !s.held.forSale(phone) || s.isExhausted(phone[2:5]) {
		writeError(w, notAvailable(phone))
		return
	}
	if refusal := regulated[countryOf(phone)]; refusal != nil && f.Get("BundleSid") == "" {
		writeError(w, refusal)
		return
	}
	if s.takeOnBuy() {
		s.held.taken[phone] = true
		if err := s.saveLocked(); err != nil {
			delete(s.held.taken, phone)
			writeError(w, apiError(http.StatusInternalServerError, codeInternal, "%v", err))
			return
		}
		writeError(w, notAvailable(phone))
		return
	}
	now := time.Now().UTC().Truncate(time.Second)
	rec := &record{Seq: s.held.seq + 1, Number: Number{
		SID: newSID("PN"), PhoneNumber: phone, FriendlyName: formatNANP(phone),
		VoiceMethod: http.MethodPost, VoiceFallbackMethod: http.MethodPost, StatusCallbackMethod: http.MethodPost,
		DateCreated: now, DateUpdated: now,
	}}
	configure(&rec.Number, f)
	s.held.add(rec)
	if err := s.saveLocked(); err != nil {
		s.held.remove(rec)
		s.held.seq--
		writeError(w, apiError(http.StatusInternalServerError, codeInternal, "%v", err))
		return
	}
	writeJSON(w, http.StatusCreated, s.resource(rec.Number))
}

func notAvailable(phone string) *Error {
	return apiError(http.StatusBadRequest, codeNumberTaken, "PhoneNumber %s is not available", phone)
}

// forSaleLocked returns the first number for sale in ac, or "".
func (s *Server) forSaleLocked(ac string) string {
	if s.isExhausted(ac) {
		return ""
	}
	for line := lastLine; line >= firstLine; line-- {
		if e := inventoryNumber(ac, line); s.held.forSale(e) {
			return e
		}
	}
	return ""
}

// configure sets the fields of n that the form names; others stay.
func configure(n *Number, f url.Values) {
	fields := []struct {
		name   string
		to     *string
		method bool
	}{
		{"FriendlyName", &n.FriendlyName, false},
		{"VoiceUrl", &n.VoiceURL, false},
		{"VoiceMethod", &n.VoiceMethod, true},
		{"VoiceFallbackUrl", &n.VoiceFallbackURL, false},
		{"VoiceFallbackMethod", &n.VoiceFallbackMethod, true},
		{"StatusCallback", &n.StatusCallback, false},
		{"StatusCallbackMethod", &n.StatusCallbackMethod, true},
	}
	for _, field := range fields {
		v, ok := f[field.name]
		if !ok || len(v) == 0 {
			continue
		}
		switch {
		case field.method && strings.EqualFold(v[0], http.MethodGet):
			*field.to = http.MethodGet
		case field.method:
			*field.to = http.MethodPost
		default:
			*field.to = v[0]
		}
	}
}

// heldLocked returns the number the {Sid} segment names, writing 404 if
// there is none. The caller holds s.mu.
func (s *Server) heldLocked(w http.ResponseWriter, r *http.Request) *record {
	rec := s.held.bySID[jsonSID(r)]
	if rec == nil {
		writeError(w, errNotFound(r.URL.Path))
	}
	return rec
}

func (s *Server) fetchNumber(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.heldLocked(w, r); rec != nil {
		writeJSON(w, http.StatusOK, s.resource(rec.Number))
	}
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.heldLocked(w, r)
	if rec == nil {
		return
	}
	before := rec.Number
	configure(&rec.Number, r.Form)
	rec.DateUpdated = time.Now().UTC().Truncate(time.Second)
	if err := s.saveLocked(); err != nil {
		rec.Number = before
		writeError(w, apiError(http.StatusInternalServerError, codeInternal, "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, s.resource(rec.Number))
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.heldLocked(w, r)
	if rec == nil {
		return
	}
	s.held.remove(rec)
	if err := s.saveLocked(); err != nil {
		s.held.add(rec)
		writeError(w, apiError(http.StatusInternalServerError, codeInternal, "%v", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
