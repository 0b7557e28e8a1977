package httpapi

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dni-dev/dni/allocator"
)

// SpendDefaults are what a spend CSV's rows take when it has no column
// for them: the source and medium of every row (an ad platform's report
// names campaigns only), and the cluster's currency, which a currency
// column must match.
type SpendDefaults struct {
	Source, Medium string
	Currency       string
}

// spendColumns are the header names ParseSpendCSV knows, in lower case,
// for each field: dni's own export, Google Ads' campaign report (Day,
// Campaign, Cost, Currency code) and Microsoft Advertising's (Date or
// Day, Campaign name, Spend, Currency code).
var spendColumns = map[string][]string{
	"day":      {"day", "date", "gregorian date", "time period"},
	"campaign": {"campaign", "campaign name"},
	"cost":     {"cost", "spend", "amount spent", "amount"},
	"source":   {"source", "utm_source"},
	"medium":   {"medium", "utm_medium"},
	"currency": {"currency", "currency code"},
}

// maxSpendTitleLines is how many lines before the header a report may
// have: Google Ads puts the report's name and its date range there.
const maxSpendTitleLines = 10

// ParseSpendCSV reads days of spend from a CSV file as dni, Google Ads or
// Microsoft Advertising export it: UTF-8 or UTF-16 (Excel's export), with
// commas, semicolons or tabs, title lines before the header row, and
// total rows at the end, which are skipped. Days may be written
// 2026-12-01, 12/1/2026 (month first, as both platforms' US exports do)
// or Dec 1, 2026. Every problem is an error naming the field and row.
func ParseSpendCSV(data []byte, def SpendDefaults) ([]allocator.Spend, error) {
	text, err := utf8Text(data)
	if err != nil {
		return nil, err
	}
	lines := strings.SplitAfter(text, "\n")
	header, cols := -1, map[string]int{}
	var comma rune
	for i := 0; i < len(lines) && i <= maxSpendTitleLines; i++ {
		comma = delimiter(lines[i])
		if c, ok := headerColumns(lines[i], comma); ok {
			header, cols = i, c
			break
		}
	}
	if header < 0 {
		return nil, &allocator.ValidationError{Field: "csv", Reason: "found no header row naming day, campaign and cost columns " +
			"(Google Ads: Day, Campaign, Cost; Microsoft Advertising: Date, Campaign name, Spend)"}
	}
	for _, need := range []string{"day", "campaign", "cost"} {
		if _, ok := cols[need]; !ok {
			return nil, &allocator.ValidationError{Field: need, Reason: "the CSV has no " + need + " column"}
		}
	}
	for _, f := range []struct{ name, def string }{{"source", def.Source}, {"medium", def.Medium}} {
		if _, ok := cols[f.name]; !ok && strings.TrimSpace(f.def) == "" {
			return nil, &allocator.ValidationError{Field: f.name, Reason: "the CSV has no " + f.name +
				" column: say which every row has (google and cpc for Google Ads, bing and cpc for Microsoft Advertising)"}
		}
	}
	r := csv.NewReader(strings.NewReader(strings.Join(lines[header+1:], "")))
	r.Comma, r.FieldsPerRecord, r.LazyQuotes = comma, -1, true
	var out []allocator.Spend
	for line := header + 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &allocator.ValidationError{Field: "csv", Reason: fmt.Sprintf("line %d: %v", line, err)}
		}
		cell := func(name string) string {
			if i, ok := cols[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if totalRow(rec) {
			continue
		}
		day, ok := parseReportDay(cell("day"))
		if !ok {
			return nil, &allocator.ValidationError{Field: "day", Reason: fmt.Sprintf("line %d: %q is not a date such as 2026-12-01", line, cell("day"))}
		}
		if cur := cell("currency"); cur != "" && !strings.EqualFold(cur, def.Currency) {
			return nil, &allocator.ValidationError{Field: "currency", Reason: fmt.Sprintf("line %d: spend is kept in %s, the cluster's currency; this row is in %s", line, def.Currency, cur)}
		}
		cost := cell("cost")
		if cost == "--" || cost == "" {
			cost = "0" // Google Ads writes -- for a day without clicks
		}
		amount, err := allocator.ParseMoney("cost", cost)
		if err != nil {
			var ve *allocator.ValidationError
			errors.As(err, &ve)
			return nil, &allocator.ValidationError{Field: "cost", Reason: fmt.Sprintf("line %d: %s", line, ve.Reason)}
		}
		k := allocator.SpendKey{Day: day, Source: cell("source"), Medium: cell("medium"), Campaign: cell("campaign")}
		if k.Source == "" {
			k.Source = strings.TrimSpace(def.Source)
		}
		if k.Medium == "" {
			k.Medium = strings.TrimSpace(def.Medium)
		}
		if err := checkSpendKey(k); err != nil {
			var ve *allocator.ValidationError
			if errors.As(err, &ve) {
				return nil, &allocator.ValidationError{Field: ve.Field, Reason: fmt.Sprintf("line %d: %s", line, ve.Reason)}
			}
			return nil, err
		}
		if len(out) == allocator.MaxSpendPerCall {
			return nil, &allocator.ValidationError{Field: "csv", Reason: fmt.Sprintf("more than %d rows: split the file", allocator.MaxSpendPerCall)}
		}
		out = append(out, allocator.Spend{SpendKey: k, Cost: amount})
	}
	if len(out) == 0 {
		return nil, &allocator.ValidationError{Field: "csv", Reason: "has a header but no days of spend"}
	}
	return out, nil
}

// utf8Text decodes the file: UTF-8 (a byte order mark dropped) or, with
// its byte order mark, UTF-16 as Excel and Google Ads' "Excel CSV" write.
func utf8Text(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		little := data[0] == 0xFF
		data = data[2:]
		u := make([]uint16, len(data)/2)
		for i := range u {
			if little {
				u[i] = uint16(data[2*i]) | uint16(data[2*i+1])<<8
			} else {
				u[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
			}
		}
		return string(utf16.Decode(u)), nil
	}
	if !utf8.Valid(data) {
		return "", &allocator.ValidationError{Field: "csv", Reason: "is neither UTF-8 nor UTF-16 with a byte order mark"}
	}
	return string(data), nil
}

// delimiter guesses a line's separator: the most common of tab, semicolon
// and comma outside quotes.
func delimiter(line string) rune {
	counts := map[rune]int{}
	quoted := false
	for _, c := range line {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == '\t' || c == ';' || c == ','):
			counts[c]++
		}
	}
	best := ','
	for _, c := range []rune{'\t', ';'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return best
}

// headerColumns reads a header row: the column of each field it names.
// It is the header when it names a day, a campaign and a cost, or at
// least two of them (the missing one is then reported by name).
func headerColumns(line string, comma rune) (map[string]int, bool) {
	r := csv.NewReader(strings.NewReader(line))
	r.Comma, r.LazyQuotes = comma, true
	rec, err := r.Read()
	if err != nil {
		return nil, false
	}
	cols := map[string]int{}
	for i, name := range rec {
		name = strings.ToLower(strings.TrimSpace(name))
		for field, names := range spendColumns {
			if _, seen := cols[field]; !seen && slices.Contains(names, name) {
				cols[field] = i
			}
		}
	}
	n := 0
	for _, f := range []string{"day", "campaign", "cost"} {
		if _, ok := cols[f]; ok {
			n++
		}
	}
	return cols, n >= 2
}

// totalRow reports whether a row is a report's total or an empty line:
// Google Ads ends its reports with "Total: Account" and the like,
// Microsoft Advertising with "Total".
func totalRow(rec []string) bool {
	for _, c := range rec {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		return c == "total" || strings.HasPrefix(c, "total:") || strings.HasPrefix(c, "total -")
	}
	return true
}

// reportDayLayouts are the ways ad platforms' reports write a day.
var reportDayLayouts = []string{"2006-01-02", "1/2/2006", "01/02/2006", "Jan 2, 2006", "January 2, 2006", "2006/01/02", "Mon, Jan 2, 2006"}

func parseReportDay(s string) (allocator.Day, bool) {
	for _, l := range reportDayLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return allocator.ParseDay(t.Format(time.DateOnly))
		}
	}
	return 0, false
}
