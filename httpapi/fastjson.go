package httpapi

import (
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// The visitor API answers far more often than anything else, so its one
// answer shape is written by hand instead of through encoding/json's
// reflection. Strings are escaped as encoding/json escapes them, <, > and &
// included.

func writeVisitAnswer(rc *fasthttp.RequestCtx, status int, a *visitAnswer) {
	b := make([]byte, 0, 192)
	b = append(b, '{')
	sep := false
	field := func(name, v string) {
		if v == "" {
			return
		}
		if sep {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
		b = appendJSONString(b, v)
		sep = true
	}
	field("visit", a.Visit)
	field("number", a.Number)
	field("display", a.Display)
	field("target", a.Target)
	if a.HeartbeatS != 0 {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"heartbeat_s":`...)
		b = strconv.AppendInt(b, int64(a.HeartbeatS), 10)
		sep = true
	}
	if a.Swap != nil {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"swap":`...)
		b = strconv.AppendBool(b, *a.Swap)
		sep = true
	}
	field("reason", a.Reason)
	// What the snippet finds and writes numbers by; only an answer with a
	// number has them.
	field("target_digits", a.TargetDigits)
	field("country_code", a.CountryCode)
	field("trunk_prefix", a.TrunkPrefix)
	field("digits", a.Digits)
	field("international", a.International)
	b = append(b, "}\n"...)
	rc.SetStatusCode(status)
	rc.SetContentType("application/json")
	rc.SetBody(b)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
