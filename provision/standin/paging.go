package standin

import (
	"net/url"
	"strconv"
)

// page is the paging part of every Twilio list answer.
type page struct {
	URI             string  `json:"uri"`
	FirstPageURI    string  `json:"first_page_uri"`
	NextPageURI     *string `json:"next_page_uri"`
	PreviousPageURI *string `json:"previous_page_uri"`
	Page            int     `json:"page"`
	PageSize        int     `json:"page_size"`
	Start           int     `json:"start"`
	End             int     `json:"end"`
}

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// pageSize reads PageSize: 50 when absent, at most 1000.
func pageSize(v string) (int, *Error) {
	if v == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, apiError(400, codeInvalidParameter, "PageSize %q is not a positive number", v)
	}
	return min(n, maxPageSize), nil
}

// pageURI is path with the filters and paging parameters as a query, the
// form of Twilio's uri, first_page_uri and next_page_uri.
func pageURI(path string, filters url.Values, size, number int, token string) string {
	q := url.Values{}
	for k, v := range filters {
		q[k] = v
	}
	q.Set("PageSize", strconv.Itoa(size))
	q.Set("Page", strconv.Itoa(number))
	if token != "" {
		q.Set("PageToken", token)
	}
	return path + "?" + q.Encode()
}
