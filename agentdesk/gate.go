package agentdesk

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	engine "github.com/zishang520/socket.io/servers/engine/v3"
)

// The connect gate works around a race in the Socket.IO library (servers
// v3.0.5): the Engine.IO layer sends the open packet of a new connection,
// and starts reading from it, before it emits the "connection" event on
// which the Socket.IO layer starts listening to the connection's data. A
// client that answers the open packet quickly (every client sends its
// CONNECT right after it) can have that CONNECT read in between and dropped:
// no connect, no connect_error, the client hangs until its own timeout. Under
// CPU load about one connection in 500 was lost in tests.
//
// The gate holds back the server's reads until the Socket.IO layer listens:
//   - a WebSocket handshake (no sid): the hijacked connection's reads wait
//     until the library's ServeHTTP returns, which happens after it emitted
//     "connection" (the handshake runs on the request's goroutine);
//   - a long-polling request for a sid the Engine.IO layer knows but the
//     Socket.IO layer has not bound yet waits until it is bound.
//
// Both waits are bounded by gateTimeout.
const gateTimeout = 2 * time.Second

// gate tracks the Engine.IO sessions the Socket.IO layer listens to.
type gate struct {
	mu      sync.Mutex
	bound   map[string]struct{}
	changed chan struct{} // closed and replaced whenever bound grows
}

func newGate() *gate {
	return &gate{bound: map[string]struct{}{}, changed: make(chan struct{})}
}

// watch registers on the engine's "connection" event, after the Socket.IO
// layer's own listener (listeners run in registration order).
func (g *gate) watch(eng engine.BaseServer) {
	_ = eng.On("connection", func(args ...any) {
		conn, ok := args[0].(engine.Socket)
		if !ok {
			return
		}
		id := conn.Id()
		g.bind(id)
		_ = conn.Once("close", func(...any) { g.unbind(id) })
	})
}

func (g *gate) bind(sid string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.bound[sid] = struct{}{}
	close(g.changed)
	g.changed = make(chan struct{})
}

func (g *gate) unbind(sid string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.bound, sid)
}

// waitBound waits until sid is bound, at most gateTimeout.
func (g *gate) waitBound(sid string) {
	timeout := time.NewTimer(gateTimeout)
	defer timeout.Stop()
	for {
		g.mu.Lock()
		_, ok := g.bound[sid]
		ch := g.changed
		g.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timeout.C:
			return
		}
	}
}

// serve runs inner with the gate: a WebSocket handshake without a sid gets
// a gated connection; every WebSocket upgrade gets an upgradeWriter, which
// lets go of net/http's response once hijacked (see upgradeWriter); a
// long-polling request waits until its sid is bound.
func (g *gate) serve(eng engine.BaseServer, inner http.Handler, w http.ResponseWriter, r *http.Request) {
	sid := r.URL.Query().Get("sid")
	switch {
	case websocket.IsWebSocketUpgrade(r):
		uw := &upgradeWriter{w: w}
		if sid == "" {
			release := make(chan struct{})
			defer close(release)
			uw.release = release
		} else if _, known := eng.Clients().Load(sid); known {
			g.waitBound(sid)
		}
		w = uw
	case sid != "":
		if _, known := eng.Clients().Load(sid); known {
			g.waitBound(sid)
		}
	}
	inner.ServeHTTP(w, r)
}

// upgradeWriter is the ResponseWriter of a WebSocket upgrade. The library
// keeps a connection's handshake ResponseWriter for the connection's whole
// life; net/http's response behind it holds the HTTP connection's 4 KiB
// read buffer and its 4 KiB write buffer, which the WebSocket (with buffers
// of its own) never uses. Once hijacked, upgradeWriter drops the response
// and answers like a hijacked one (http.ErrHijacked), so those 8 KiB per
// connection are freed. When release is set, the hijacked connection's
// reads wait for it (gatedConn).
type upgradeWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter // nil once hijacked
	header  http.Header         // after the hijack
	release <-chan struct{}
}

func (w *upgradeWriter) Header() http.Header {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.w != nil {
		return w.w.Header()
	}
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *upgradeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	rw := w.w
	w.mu.Unlock()
	if rw == nil {
		return 0, http.ErrHijacked
	}
	return rw.Write(p)
}

func (w *upgradeWriter) WriteHeader(code int) {
	w.mu.Lock()
	rw := w.w
	w.mu.Unlock()
	if rw != nil {
		rw.WriteHeader(code)
	}
}

// Hijack hijacks the response, wraps the connection in a gatedConn when
// gated, and lets go of the response.
func (w *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.w == nil {
		return nil, nil, http.ErrHijacked
	}
	h, ok := w.w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("agentdesk: response writer cannot be hijacked")
	}
	c, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.w = nil
	if w.release != nil {
		c = &gatedConn{Conn: c, release: w.release}
	}
	return c, brw, nil
}

type gatedConn struct {
	net.Conn
	release <-chan struct{}
	open    atomic.Bool
}

// Read waits for the release (at most gateTimeout) before the first read.
func (c *gatedConn) Read(p []byte) (int, error) {
	if !c.open.Load() {
		t := time.NewTimer(gateTimeout)
		select {
		case <-c.release:
		case <-t.C:
		}
		t.Stop()
		c.open.Store(true)
	}
	return c.Conn.Read(p)
}
