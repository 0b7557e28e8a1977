package httpapi

import (
	"slices"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/dni-dev/dni/fsm"
)

// access says who may call a route.
type access uint8

const (
	publicAccess   access = iota // anyone: health, metrics, the OpenAPI file, dni.js
	visitorAccess                // anyone, from any origin (CORS)
	adminAccess                  // a bearer token whose role allows the route's (route.role)
	internalAccess               // a node or operator's tool of the cluster, on the cluster port only
	twilioAccess                 // a valid X-Twilio-Signature
	exportAccess                 // any token, export role included, by HTTP Basic (its password) or as a bearer
)

type route struct {
	method  string
	pattern string // "/v1/pools/{id}"; also the route's metrics label
	access  access
	role    fsm.Role // for adminAccess: the least role a token needs; none lets no token in
	bigBody bool     // a restore: its body may be large, and is streamed on the cluster port
	handle  func(*fasthttp.RequestCtx, []string)
	segs    []string
}

// needs sets the role an admin route needs.
func (r *route) needs(role fsm.Role) *route {
	r.role = role
	return r
}

// router finds routes by method and path. Static paths are a map lookup;
// paths with {params} are matched segment by segment. There are a few
// dozen routes, so a list is fast enough and easy to read.
type router struct {
	static  map[string][]*route // path -> routes, one per method
	dynamic []*route
}

func (rt *router) add(method, pattern string, a access, h func(*fasthttp.RequestCtx, []string)) *route {
	r := &route{method: method, pattern: pattern, access: a, handle: h, segs: strings.Split(pattern, "/")}
	if strings.Contains(pattern, "{") {
		rt.dynamic = append(rt.dynamic, r)
	} else {
		if rt.static == nil {
			rt.static = map[string][]*route{}
		}
		rt.static[pattern] = append(rt.static[pattern], r)
	}
	return r
}

// find returns the route for method and path, with its path parameters. If
// the path matches routes of other methods only, allowed lists them.
func (rt *router) find(method, path []byte) (r *route, params []string, allowed string) {
	var candidates []*route
	dynamic := false
	if rs, ok := rt.static[string(path)]; ok {
		candidates = rs
	} else {
		dynamic = true
		for _, d := range rt.dynamic {
			if _, ok := match(d.segs, string(path)); ok {
				candidates = append(candidates, d)
			}
		}
	}
	var methods []string
	for _, c := range candidates {
		if c.method == string(method) {
			if dynamic {
				params, _ = match(c.segs, string(path))
			}
			return c, params, ""
		}
		methods = append(methods, c.method)
	}
	if len(methods) > 0 {
		if slices.ContainsFunc(candidates, func(c *route) bool { return c.access == visitorAccess }) {
			methods = append(methods, fasthttp.MethodOptions)
		}
		allowed = strings.Join(methods, ", ")
	}
	return nil, nil, allowed
}

// match compares a pattern's segments with a path, capturing {params}. A
// parameter never matches an empty segment.
func match(pattern []string, path string) ([]string, bool) {
	var params []string
	for i, p := range pattern {
		seg, rest, found := strings.Cut(path, "/")
		if found == (i == len(pattern)-1) {
			return nil, false // too many segments, or too few
		}
		path = rest
		if strings.HasPrefix(p, "{") {
			if seg == "" {
				return nil, false
			}
			params = append(params, seg)
		} else if p != seg {
			return nil, false
		}
	}
	return params, true
}
