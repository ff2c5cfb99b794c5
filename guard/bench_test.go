package guard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/omniroute/omniroute/guard"
)

// BenchmarkLimiterAllow is the per-request cost of a per-address rate
// check on the normal path (a key seen before, tokens available).
func BenchmarkLimiterAllow(b *testing.B) {
	l := guard.NewLimiter(1e9, 1<<30, nil)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("192.0.2.%d", i%250)
	}
	b.ResetTimer()
	for i := range b.N {
		l.Allow(keys[i%len(keys)])
	}
}

// BenchmarkBackoffWait is the cost a login pays before bcrypt (two of
// these: user and address).
func BenchmarkBackoffWait(b *testing.B) {
	bo := guard.NewBackoff(5, time.Second, time.Minute, nil)
	for b.Loop() {
		bo.Wait("user:alice")
	}
}

// BenchmarkProxiesHandler is the cost of the trusted-proxy rewrite on a
// request from a trusted proxy with one X-Forwarded-For entry.
func BenchmarkProxiesHandler(b *testing.B) {
	h := guard.NewProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.1.1:5000"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	w := httptest.NewRecorder()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
