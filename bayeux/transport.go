package bayeux

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// wsWriteTimeout bounds one websocket write, so a client that stopped
// reading cannot hold a writer goroutine forever.
const wsWriteTimeout = 10 * time.Second

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if websocket.IsWebSocketUpgrade(r) {
		s.serveWebSocket(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, requestError("Bayeux long-polling requires POST"))
		return
	}
	if !s.enter() {
		writeJSON(w, http.StatusServiceUnavailable, requestError("Server closing"))
		return
	}
	defer s.wg.Done()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxMessageBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, requestError("Message too large"))
			return
		}
		writeJSON(w, http.StatusBadRequest, requestError("Cannot read request body"))
		return
	}
	// Old clients post a form with the message array in "message".
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, requestError("Malformed form body"))
			return
		}
		body = []byte(form.Get("message"))
	}
	items, err := decodeRequest(body, s.opts.MaxMessagesPerRequest)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, requestError(err.Error()))
		return
	}
	out, pending := s.processBatch(r, ConnectionLongPolling, items)
	if pending != nil {
		msgs, rep, ok := s.waitConnect(r.Context(), pending)
		if !ok {
			return // the client went away; nothing can be written
		}
		out = append(out, msgs...)
		out = append(out, rep.encode())
	}
	writeJSON(w, http.StatusOK, joinArray(out))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-cache, no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// serveWebSocket runs the websocket transport: the same message arrays as
// long-polling, one per text frame. A reader goroutine (this one) answers
// every message but /meta/connect; a writer goroutine holds the connect and
// writes its reply, so reading never waits on a held connect.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		writeJSON(w, http.StatusServiceUnavailable, requestError("Server closing"))
		return
	}
	defer s.wg.Done()
	check := s.opts.CheckOrigin
	if check == nil {
		check = func(*http.Request) bool { return true }
	}
	up := websocket.Upgrader{CheckOrigin: check}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade already answered with an HTTP error
	}
	s.wsMu.Lock()
	s.ws[conn] = struct{}{}
	s.wsMu.Unlock()
	select {
	case <-s.closing: // Close ran between enter and registration
		_ = conn.Close()
	default:
	}
	defer func() {
		s.wsMu.Lock()
		delete(s.ws, conn)
		s.wsMu.Unlock()
		_ = conn.Close()
	}()
	conn.SetReadLimit(s.opts.MaxMessageBytes)

	ctx, cancel := context.WithCancel(context.Background())
	connects := make(chan *pendingConnect, 1)
	writeMu := make(chan struct{}, 1) // a lock usable from both goroutines
	write := func(b []byte) error {
		writeMu <- struct{}{}
		defer func() { <-writeMu }()
		_ = conn.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-connects:
				msgs, rep, ok := s.waitConnect(ctx, p)
				if !ok {
					return
				}
				out := append(msgs, rep.encode())
				if err := write(joinArray(out)); err != nil {
					_ = conn.Close()
					return
				}
			}
		}
	}()

	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			break
		}
		if typ != websocket.TextMessage {
			if write(requestError("Binary frames are not supported")) != nil {
				break
			}
			continue
		}
		items, err := decodeRequest(data, s.opts.MaxMessagesPerRequest)
		if err != nil {
			if write(requestError(err.Error())) != nil {
				break
			}
			continue
		}
		out, pending := s.processBatch(r, ConnectionWebSocket, items)
		if len(out) > 0 {
			if write(joinArray(out)) != nil {
				if pending != nil {
					s.abandonConnect(pending)
				}
				break
			}
		}
		if pending != nil {
			select {
			case connects <- pending:
			case <-writerDone:
				s.abandonConnect(pending)
			}
		}
	}
	cancel()
	<-writerDone
	// A connect handed over but never picked up must not keep its session
	// alive forever.
	select {
	case p := <-connects:
		s.abandonConnect(p)
	default:
	}
}
