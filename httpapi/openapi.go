package httpapi

import (
	_ "embed"

	"github.com/valyala/fasthttp"
)

// openapiJSON describes the visitor and admin APIs (OpenAPI 3). A test keeps
// it and the routes in step.
//
//go:embed openapi.json
var openapiJSON []byte

func (s *Server) openAPI(rc *fasthttp.RequestCtx, _ []string) {
	rc.SetContentType("application/json")
	rc.Response.Header.Set("Access-Control-Allow-Origin", "*")
	rc.SetBody(openapiJSON)
}
