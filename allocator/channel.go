package allocator

import (
	"net/url"
	"strings"
)

// Channel names where a visit came from in a few words a person can say,
// such as "Google Ads", "Facebook Organic" or "yelp.com": what the whisper
// tells the agent and what reports group by. Nil means nothing is known.
//
// In order: a Google click id (gclid, gbraid, wbraid) is Google Ads; a
// Microsoft click id is Microsoft Ads; utm_source with utm_medium gives
// "<Source> Ads", "<Source> Email" or "<Source> Organic"; a Meta click id is
// Facebook; a known search engine or social site as referrer is "<Name>
// Organic"; any other referrer is its domain; else "your website".
func (a *Attribution) Channel() string {
	if a == nil {
		return "your website"
	}
	switch {
	case a.GCLID != "" || a.GBRAID != "" || a.WBRAID != "":
		return "Google Ads"
	case a.MSCLKID != "":
		return "Microsoft Ads"
	}
	if src := sayable(a.Source); src != "" {
		name := sourceName(src)
		switch medium := strings.ToLower(strings.TrimSpace(a.Medium)); {
		case paidMedia[medium]:
			return name + " Ads"
		case medium == "email" || medium == "e-mail" || medium == "newsletter":
			return name + " Email"
		}
		return name + " Organic"
	}
	if a.FBCLID != "" {
		return "Facebook"
	}
	if host := referrerHost(a.Referrer); host != "" {
		for _, site := range knownSites {
			if host == site.domain || strings.HasSuffix(host, "."+site.domain) || site.prefix != "" && strings.HasPrefix(host, site.prefix) {
				return site.name + " Organic"
			}
		}
		return host
	}
	return "your website"
}

// paidMedia are the utm_medium values that mean an ad was clicked.
var paidMedia = map[string]bool{
	"cpc": true, "ppc": true, "paid": true, "paidsearch": true, "paid_search": true, "paid-search": true,
	"cpm": true, "cpv": true, "display": true, "paid_social": true, "paidsocial": true, "paid-social": true,
	"ads": true, "ad": true, "sem": true, "retargeting": true, "banner": true,
}

// sourceNames spell common utm_source values the way people say them.
var sourceNames = map[string]string{
	"google": "Google", "adwords": "Google", "googleads": "Google", "google ads": "Google",
	"facebook": "Facebook", "fb": "Facebook", "meta": "Facebook", "instagram": "Instagram", "ig": "Instagram",
	"bing": "Bing", "microsoft": "Microsoft", "yahoo": "Yahoo", "duckduckgo": "DuckDuckGo",
	"linkedin": "LinkedIn", "twitter": "X", "x": "X", "tiktok": "TikTok", "youtube": "YouTube",
	"yelp": "Yelp", "nextdoor": "Nextdoor", "pinterest": "Pinterest", "reddit": "Reddit",
}

// knownSites are referrers named rather than spelled out. A prefix catches
// sites with many country domains (google.co.uk).
var knownSites = []struct{ domain, prefix, name string }{
	{"google.com", "google.", "Google"},
	{"bing.com", "bing.", "Bing"},
	{"duckduckgo.com", "duckduckgo.", "DuckDuckGo"},
	{"search.yahoo.com", "search.yahoo.", "Yahoo"},
	{"facebook.com", "facebook.", "Facebook"},
	{"instagram.com", "instagram.", "Instagram"},
	{"linkedin.com", "linkedin.", "LinkedIn"},
	{"t.co", "", "X"},
	{"x.com", "", "X"},
	{"youtube.com", "", "YouTube"},
}

func sourceName(src string) string {
	if name, ok := sourceNames[strings.ToLower(src)]; ok {
		return name
	}
	if strings.ToLower(src) == src {
		return strings.ToUpper(src[:1]) + src[1:]
	}
	return src
}

// sayable keeps what a text-to-speech voice reads well: letters, digits,
// spaces, '.', '-', at most 40 bytes. Everything else is dropped, so a
// visitor's input never reaches the whisper as markup.
func sayable(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		case r == ' ' || r == '_' || r == '+':
			b.WriteByte(' ')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// referrerHost returns the referrer's host without "www.", or "".
func referrerHost(ref string) string {
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil || u.Host == "" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	host = strings.TrimPrefix(host, "www.")
	if sayable(host) != host {
		return ""
	}
	return host
}
