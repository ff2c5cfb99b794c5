package bayeux

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzDecode checks that the message decoder never panics, always
// classifies each element as a message or a bad one, and that the whole
// long-polling path answers arbitrary bodies with a JSON array of replies.
//
//	go test ./bayeux -run '^$' -fuzz FuzzDecode -fuzztime 30s -fuzzminimizetime 2s
//
// (a short -fuzzminimizetime: minimizing through the HTTP path is slow and
// shows as 0 execs/sec for up to a minute per new input)
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"ext":{"ack":true}}]`,
		`[{"channel":"/meta/connect","clientId":"x","connectionType":"long-polling","advice":{"timeout":0},"ext":{"ack":3}}]`,
		`{"channel":"/meta/subscribe","clientId":"x","subscription":["/a/*","/b/**"],"ext":{"replay":{"/a/b":-2}}}`,
		`[{"channel":"/_genesys","clientId":"x","data":{"a":[1,2]},"id":7}]`,
		`[{"channel":5}]`, `[]`, `[null]`, `{`, `"x"`, ``,
	} {
		f.Add([]byte(seed))
	}
	srv := NewServer(Options{Logger: slog.New(slog.DiscardHandler), MaxClients: 50})
	f.Cleanup(srv.Close)
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := decodeRequest(body, 16)
		if err == nil {
			for _, it := range items {
				if (it.msg == nil) == (it.bad == nil) {
					t.Fatalf("item is neither or both message and bad: %+v", it)
				}
				if it.msg != nil && validChannel(it.msg.Channel, false) != nil {
					t.Fatalf("accepted bad channel %q", it.msg.Channel)
				}
			}
		}
		// Connects may only name unknown clients here (ids are random), so
		// none is held and the request returns at once.
		req := httptest.NewRequest(http.MethodPost, "/cometd", strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(rec, req)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("request held: %q", body)
		}
		var out []map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("reply not a JSON array: %v: %s", err, rec.Body.Bytes())
		}
	})
}
