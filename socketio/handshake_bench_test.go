package socketio_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/omniroute/omniroute/socketio"
)

// BenchmarkHandshake: what an authenticated desk's long-polling handshake
// costs, in process (no network): the Engine.IO open (GET), the CONNECT
// with auth through a namespace middleware (POST 40{...}), the poll that
// reads the CONNECT answer (GET) and the close (POST 1). "pending-cap" has
// the default MaxPendingPerAddress, so each handshake takes and gives back
// a place in its address's count; "no-cap" (MaxPendingPerAddress -1)
// does not. The difference is what the limit costs on the normal path.
// (Closed sessions linger briefly to answer a poll in flight, so they are
// not counted here.)
func BenchmarkHandshake(b *testing.B) {
	for _, c := range []struct {
		name string
		max  int
	}{{"pending-cap", 0}, {"no-cap", -1}} {
		b.Run(c.name, func(b *testing.B) {
			s := socketio.NewServer(socketio.Options{MaxPendingPerAddress: c.max})
			defer s.Close()
			s.Of("/").Use(func(sk *socketio.Socket) error {
				if !strings.Contains(string(sk.Handshake().Auth), `"token":"t"`) {
					return errors.New("unauthorized")
				}
				return nil
			})
			const base = "/socket.io/?EIO=4&transport=polling"
			serve := func(method, target, body string) string {
				var r *http.Request
				if body == "" {
					r = httptest.NewRequest(method, target, nil)
				} else {
					r = httptest.NewRequest(method, target, strings.NewReader(body))
				}
				w := httptest.NewRecorder()
				s.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
				}
				return w.Body.String()
			}
			b.ReportAllocs()
			for b.Loop() {
				open := serve("GET", base, "")
				var o struct{ Sid string }
				if len(open) < 2 || json.Unmarshal([]byte(open[1:]), &o) != nil {
					b.Fatalf("open %q", open)
				}
				sid := base + "&sid=" + o.Sid
				serve("POST", sid, `40{"token":"t"}`)
				if got := serve("GET", sid, ""); !strings.HasPrefix(got, "40{") {
					b.Fatalf("CONNECT answer %q", got)
				}
				serve("POST", sid, "1")
			}
		})
	}
}
