package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkAuditUnaudited: what the audit layer costs a request it does
// not record (POST /v1/conversations, the per-conversation REST call);
// allocations are the figure:
// go test -run X -bench AuditUnaudited -benchmem ./server/
func BenchmarkAuditUnaudited(b *testing.B) {
	h := (&Server{}).auditHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("POST", "/v1/conversations", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
