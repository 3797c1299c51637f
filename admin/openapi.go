package admin

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3.1 document of the HTTP API [NewHandler] serves,
// at GET /openapi.json behind the same authorizer. A test drives every
// endpoint against real stores and validates each response against it.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the HTTP API, as JSON.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func (h *handler) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(openAPI)
}
