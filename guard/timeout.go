package guard

import (
	"bytes"
	"io"
	"net/http"
	"time"
)

// HTTP timeouts of the listener (http.Server fields), defaults of Timeouts.
const (
	// DefaultReadHeaderTimeout bounds reading a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included: a
	// client sending one byte every few seconds is cut when it runs out.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds writing a response (from the end of the
	// request's headers), except on LongLived routes.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection with no request
	// for this long.
	DefaultIdleTimeout = 120 * time.Second
	// LongLivedBodyBytes is how much of a long-lived route's request body
	// (a CometD or Engine.IO long-poll POST) LongLived reads under the read
	// timeout before lifting the deadlines; every such body the server
	// accepts is smaller.
	LongLivedBodyBytes = 1 << 20
)

// Timeouts are the listener's; zero fields take the defaults.
type Timeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// Apply sets the timeouts on srv, defaults for the zero fields.
func (t Timeouts) Apply(srv *http.Server) {
	pick := func(v, d time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return d
	}
	srv.ReadHeaderTimeout = pick(t.ReadHeader, DefaultReadHeaderTimeout)
	srv.ReadTimeout = pick(t.Read, DefaultReadTimeout)
	srv.WriteTimeout = pick(t.Write, DefaultWriteTimeout)
	srv.IdleTimeout = pick(t.Idle, DefaultIdleTimeout)
}

// LongLived marks h as a route that holds its connection on purpose (an SSE
// stream, a websocket, a CometD or Engine.IO long poll): the request body,
// if any, is first read in full under the listener's read timeout (so a
// slow body is still cut), then the read and write deadlines are lifted for
// the rest of the exchange. Those routes bound their own lifetime (poll
// timeouts, heartbeats, session expiry).
func LongLived(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			buf, err := io.ReadAll(io.LimitReader(r.Body, LongLivedBodyBytes+1))
			if err != nil {
				// Most often the read deadline: a slow client.
				http.Error(w, "request body not received in time", http.StatusRequestTimeout)
				return
			}
			if len(buf) > LongLivedBodyBytes {
				// Too large for any long-lived route: the handler refuses
				// it by its own limit, deadlines kept.
				r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
				h.ServeHTTP(w, r)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(buf))
		}
		rc := http.NewResponseController(w)
		// Errors mean the writer cannot set deadlines (a test recorder):
		// nothing to lift then.
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		h.ServeHTTP(w, r)
	})
}

type readCloser struct {
	io.Reader
	io.Closer
}
