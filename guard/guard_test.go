package guard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/guard"
)

// TestLongLived: behind guard.LongLived a handler that answers after three
// read-and-write timeouts still answers (the deadlines are lifted once the
// body is in); without it the same handler loses its client.
func TestLongLived(t *testing.T) {
	const short = 200 * time.Millisecond
	hold := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case <-time.After(3 * short): // the hold is what is tested
		case <-r.Context().Done():
			return
		}
		w.Write(append([]byte("held:"), b...))
	})
	for _, c := range []struct {
		name string
		h    http.Handler
		ok   bool
	}{{"long-lived", guard.LongLived(hold), true}, {"plain", hold, false}} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(c.h)
			guard.Timeouts{Read: short, Write: short, Idle: short}.Apply(srv.Config)
			srv.Start()
			defer srv.Close()
			resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("poll"))
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			got := err == nil && string(body) == "held:poll"
			if got != c.ok {
				t.Fatalf("answered %v (%q, %v), want %v", got, body, err, c.ok)
			}
		})
	}
}

// TestClientAddr: forwarded headers count only from trusted proxies, and
// only their right-most untrusted entry.
func TestClientAddr(t *testing.T) {
	p := guard.NewProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	for _, c := range []struct {
		peer, xff, proto string
		client, scheme   string
	}{
		{"192.0.2.7:5000", "", "", "192.0.2.7", "http"},
		{"192.0.2.7:5000", "203.0.113.9", "https", "192.0.2.7", "http"}, // not a proxy: ignored
		{"10.1.1.1:5000", "203.0.113.9", "https", "203.0.113.9", "https"},
		{"10.1.1.1:5000", "1.2.3.4, 203.0.113.9, 10.2.2.2", "", "203.0.113.9", "http"}, // the client wrote 1.2.3.4
		{"10.1.1.1:5000", "garbage", "", "10.1.1.1", "http"},
		{"[::ffff:10.1.1.1]:5000", "203.0.113.9", "", "203.0.113.9", "http"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		if got := p.ClientAddr(r).String(); got != c.client {
			t.Errorf("%s %q: client %s, want %s", c.peer, c.xff, got, c.client)
		}
		if got := p.Scheme(r); got != c.scheme {
			t.Errorf("%s %q: scheme %s, want %s", c.peer, c.proto, got, c.scheme)
		}
		var seen *http.Request
		p.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r })).ServeHTTP(httptest.NewRecorder(), r)
		if got := guard.PeerAddr(seen).String(); got != c.client {
			t.Errorf("%s %q: handler saw %s, want %s", c.peer, c.xff, seen.RemoteAddr, c.client)
		}
		if strings.HasPrefix(c.peer, "192.") && seen.Header.Get("X-Forwarded-For") != "" {
			t.Errorf("%s: forwarded header of an untrusted peer passed on", c.peer)
		}
	}
}

// TestFrameAncestors: only the Frameable paths may be framed, by the
// configured origins; every other answer says frame-ancestors 'none'.
func TestFrameAncestors(t *testing.T) {
	h := guard.Browser{Frameable: []string{"/connector.html"}, FrameAncestors: []string{"https://crm.example.com"}}.
		Headers(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for path, want := range map[string]string{"/connector.html": "frame-ancestors https://crm.example.com", "/other": "frame-ancestors 'none'"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if csp := w.Header().Get("Content-Security-Policy"); !strings.HasSuffix(csp, want) {
			t.Errorf("%s: CSP %q, want ... %s", path, csp, want)
		}
	}
}
