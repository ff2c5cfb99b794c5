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

// serve runs inner with the gate in front of it.
func (g *gate) serve(eng engine.BaseServer, inner http.Handler, w http.ResponseWriter, r *http.Request) {
	sid := r.URL.Query().Get("sid")
	switch {
	case sid == "" && websocket.IsWebSocketUpgrade(r):
		release := make(chan struct{})
		defer close(release)
		w = &gatedWriter{ResponseWriter: w, release: release}
	case sid != "":
		if _, known := eng.Clients().Load(sid); known {
			g.waitBound(sid)
		}
	}
	inner.ServeHTTP(w, r)
}

// gatedWriter hands out a connection whose reads wait for release.
type gatedWriter struct {
	http.ResponseWriter
	release <-chan struct{}
}

// Hijack wraps the hijacked connection in a gatedConn.
func (w *gatedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("agentdesk: response writer cannot be hijacked")
	}
	c, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &gatedConn{Conn: c, release: w.release}, brw, nil
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
