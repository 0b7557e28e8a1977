package httpapi

import "strings"

// botMarks are substrings of the user agents of crawlers, link previewers
// and monitoring tools: they are not people who might call, and each would
// hold a tracking number for nothing. Matched case-insensitively.
var botMarks = []string{
	"bot", "crawler", "spider", "slurp", "crawling", "scrapy", "headlesschrome",
	"phantomjs", "lighthouse", "pagespeed", "gtmetrix", "pingdom", "uptime",
	"facebookexternalhit", "facebot", "embedly", "whatsapp", "preview",
	"curl/", "wget/", "python-requests", "python-urllib", "go-http-client",
	"okhttp", "java/", "libwww", "httpclient", "apache-httpclient", "node-fetch", "axios/",
}

// isBot reports whether a user agent is a crawler's, or missing.
func isBot(ua string) bool {
	if strings.TrimSpace(ua) == "" {
		return true
	}
	ua = strings.ToLower(ua)
	for _, m := range botMarks {
		if strings.Contains(ua, m) {
			return true
		}
	}
	return false
}
