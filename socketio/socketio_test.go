package socketio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/omniroute/omniroute/socketio"
)

func start(t *testing.T, opts socketio.Options) (*socketio.Server, string) {
	t.Helper()
	s := socketio.NewServer(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	return s, ts.URL
}

// wsClient is a raw Engine.IO websocket client.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dialWS(t *testing.T, base string) *wsClient {
	t.Helper()
	u := strings.Replace(base, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	w := &wsClient{t: t, c: c}
	if open := w.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q", open)
	}
	return w
}

// read returns the next text message, skipping pings; binary messages come
// back as "bin:" + bytes.
func (w *wsClient) read() string {
	w.t.Helper()
	for {
		_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		mt, b, err := w.c.ReadMessage()
		if err != nil {
			w.t.Fatalf("read: %v", err)
		}
		if mt == websocket.BinaryMessage {
			return "bin:" + string(b)
		}
		if string(b) == "2" {
			_ = w.c.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return string(b)
	}
}

func (w *wsClient) send(s string) {
	w.t.Helper()
	if err := w.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		w.t.Fatal(err)
	}
}

// waitClosed expects the server to close the connection.
func (w *wsClient) waitClosed() {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := w.c.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				w.t.Fatal("connection not closed")
			}
			return
		}
	}
}

func TestAcksBothWays(t *testing.T) {
	s, url := start(t, socketio.Options{})
	got := make(chan string, 1)
	s.Of("/").OnConnection(func(sk *socketio.Socket) {
		sk.OnEvent(func(ev *socketio.Event) {
			switch ev.Name {
			case "ask":
				if err := ev.Ack("answer", 42); err != nil {
					t.Error(err)
				}
				if err := ev.Ack("twice"); !errors.Is(err, socketio.ErrNoAck) {
					t.Errorf("second ack: %v, want ErrNoAck", err)
				}
			case "call-me":
				_ = sk.Emit("question", "why", func(args []json.RawMessage) {
					got <- fmt.Sprint(len(args), " ", string(args[0]))
				})
			}
		})
	})
	c := dialWS(t, url)
	c.send("40")
	if m := c.read(); !strings.HasPrefix(m, `40{"sid":"`) {
		t.Fatalf("connect answer %q", m)
	}
	c.send(`4217["ask",{"x":1}]`)
	if m := c.read(); m != `4317["answer",42]` {
		t.Fatalf("ack %q", m)
	}
	c.send(`42["call-me"]`)
	m := c.read()
	if m != `420["question","why"]` {
		t.Fatalf("server emit with ack %q", m)
	}
	c.send(`430[{"because":true}]`)
	select {
	case g := <-got:
		if g != `1 {"because":true}` {
			t.Fatalf("ack callback got %s", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server-side ack callback not called")
	}
}

func TestBinaryAttachmentsOverPolling(t *testing.T) {
	s, url := start(t, socketio.Options{})
	s.Of("/").OnConnection(func(sk *socketio.Socket) {
		sk.OnEvent(func(ev *socketio.Event) {
			if len(ev.Attachments) != 1 || string(ev.Attachments[0]) != "\x01\x02\x03" {
				t.Errorf("attachments %q", ev.Attachments)
			}
			_ = sk.Emit("back", []byte{9, 8})
		})
	})
	sid := pollHandshake(t, url)
	post(t, url, sid, "40")
	if m := poll(t, url, sid); !strings.HasPrefix(m, "40{") {
		t.Fatalf("connect answer %q", m)
	}
	post(t, url, sid, `451-["up",{"_placeholder":true,"num":0}]`+"\x1ebAQID")
	m := poll(t, url, sid)
	if m != `451-["back",{"_placeholder":true,"num":0}]`+"\x1ebCQg=" {
		t.Fatalf("binary emit over polling %q", m)
	}
}

func pollHandshake(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var open struct{ Sid string }
	if resp.StatusCode != 200 || json.Unmarshal(b[1:], &open) != nil {
		t.Fatalf("handshake %d %q", resp.StatusCode, b)
	}
	return open.Sid
}

func poll(t *testing.T, url, sid string) string {
	t.Helper()
	resp, err := http.Get(url + "/socket.io/?EIO=4&transport=polling&sid=" + sid)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("poll %d %q", resp.StatusCode, b)
	}
	return string(b)
}

func post(t *testing.T, url, sid, body string) int {
	t.Helper()
	resp, err := http.Post(url+"/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestMaxHTTPBufferSize(t *testing.T) {
	_, url := start(t, socketio.Options{MaxHTTPBufferSize: 100})
	c := dialWS(t, url)
	c.send("40")
	c.read()
	c.send(`42["big","` + strings.Repeat("x", 200) + `"]`)
	c.waitClosed()

	sid := pollHandshake(t, url)
	if code := post(t, url, sid, "4"+strings.Repeat("y", 200)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized POST: %d, want 413", code)
	}
	resp, err := http.Get(url + "/socket.io/?EIO=4&transport=polling&sid=" + sid)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("session after an oversized POST: %d, want 400 (closed)", resp.StatusCode)
	}
}

func TestCORS(t *testing.T) {
	_, url := start(t, socketio.Options{AllowedOrigins: []string{"https://desk.example"}})
	for _, tc := range []struct{ origin, want string }{{"https://desk.example", "https://desk.example"}, {"https://evil.example", ""}} {
		req, _ := http.NewRequest("GET", url+"/socket.io/?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", tc.origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("origin %s: Access-Control-Allow-Origin %q, want %q", tc.origin, got, tc.want)
		}
	}
	h := http.Header{"Origin": {"https://evil.example"}}
	_, resp, err := websocket.DefaultDialer.Dial(strings.Replace(url, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", h)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket from a foreign origin: %v %v, want 403", err, resp)
	}
}

func TestMiddlewareRefusal(t *testing.T) {
	s, url := start(t, socketio.Options{})
	s.Of("/").Use(func(sk *socketio.Socket) error {
		var auth struct{ Token string }
		_ = json.Unmarshal(sk.Handshake().Auth, &auth)
		if auth.Token != "good" {
			return &socketio.ConnectError{Message: "no", Data: map[string]string{"code": "UNAUTHORIZED"}}
		}
		sk.SetData("agent-1")
		return nil
	})
	connected := make(chan any, 1)
	s.Of("/").OnConnection(func(sk *socketio.Socket) { connected <- sk.Data() })
	c := dialWS(t, url)
	c.send(`40{"token":"bad"}`)
	if m := c.read(); m != `44{"message":"no","data":{"code":"UNAUTHORIZED"}}` {
		t.Fatalf("refusal %q", m)
	}
	c.send(`40{"token":"good"}`)
	if m := c.read(); !strings.HasPrefix(m, "40{") {
		t.Fatalf("connect %q", m)
	}
	if d := <-connected; d != "agent-1" {
		t.Fatalf("data %v", d)
	}
}

func TestRoomsAndDisconnect(t *testing.T) {
	s, url := start(t, socketio.Options{})
	nsp := s.Of("/")
	reasons := make(chan string, 4)
	joined := make(chan string, 2)
	nsp.OnConnection(func(sk *socketio.Socket) {
		var room struct{ Room string }
		_ = json.Unmarshal(sk.Handshake().Auth, &room)
		sk.Join(room.Room)
		sk.OnDisconnect(func(r string) { reasons <- r })
		joined <- room.Room
	})
	a, b := dialWS(t, url), dialWS(t, url)
	// CONNECT is answered before the connection handler runs (as in the
	// reference server), so wait for the handler, not for the answer.
	a.send(`40{"room":"r1"}`)
	a.read()
	<-joined
	b.send(`40{"room":"r2"}`)
	b.read()
	<-joined
	if n, err := nsp.To("r1", "hello", "a"); n != 1 || err != nil {
		t.Fatalf("To: %d %v", n, err)
	}
	if m := a.read(); m != `42["hello","a"]` {
		t.Fatalf("room emit %q", m)
	}
	b.send("41")
	if r := <-reasons; r != "client namespace disconnect" {
		t.Fatalf("reason %q", r)
	}
	if n, _ := nsp.To("r2", "hello"); n != 0 {
		t.Fatalf("a disconnected socket is still in its room")
	}
	_ = a.c.Close()
	if r := <-reasons; r != "transport close" {
		t.Fatalf("reason %q", r)
	}
}

// TestToRooms: one emit to several rooms reaches each member once, a
// socket in two of the rooms included, and nobody outside them; a
// marker emit afterwards shows nothing else was queued.
func TestToRooms(t *testing.T) {
	s, url := start(t, socketio.Options{})
	nsp := s.Of("/")
	joined := make(chan struct{}, 3)
	nsp.OnConnection(func(sk *socketio.Socket) {
		var rooms struct{ Rooms []string }
		_ = json.Unmarshal(sk.Handshake().Auth, &rooms)
		for _, r := range rooms.Rooms {
			sk.Join(r)
		}
		sk.Join("all")
		joined <- struct{}{}
	})
	both, one, other := dialWS(t, url), dialWS(t, url), dialWS(t, url)
	for c, auth := range map[*wsClient]string{both: `["a","b"]`, one: `["b"]`, other: `["c"]`} {
		c.send(`40{"rooms":` + auth + `}`)
		c.read()
		<-joined
	}
	if n, err := nsp.ToRooms([]string{"a", "b"}, "cim", map[string]int{"seq": 1}); n != 2 || err != nil {
		t.Fatalf("ToRooms: %d %v, want 2 sockets", n, err)
	}
	if n, _ := nsp.To("all", "marker"); n != 3 {
		t.Fatalf("marker to %d sockets", n)
	}
	for name, c := range map[string]*wsClient{"both": both, "one": one} {
		if m := c.read(); m != `42["cim",{"seq":1}]` {
			t.Fatalf("%s got %q", name, m)
		}
		if m := c.read(); m != `42["marker"]` {
			t.Fatalf("%s got %q after the event, want the marker only", name, m)
		}
	}
	if m := other.read(); m != `42["marker"]` {
		t.Fatalf("socket outside the rooms got %q", m)
	}
}

// TestPendingFlood: 20,000 handshakes that never join a namespace, from
// four client addresses, while a client that authenticates still
// connects from a fifth. Each address holds at most MaxPendingPerAddress
// sessions; the refused handshakes get 429; pending sessions hold no
// goroutine.
func TestPendingFlood(t *testing.T) {
	const perAddr = 50
	s := socketio.NewServer(socketio.Options{MaxPendingPerAddress: perAddr})
	defer s.Close()
	s.Of("/").Use(func(sk *socketio.Socket) error {
		if !strings.Contains(string(sk.Handshake().Auth), `"token":"t"`) {
			return errors.New("unauthorized")
		}
		return nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/socket.io/?EIO=4&transport=polling"
	client := func(from string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 8}, Timeout: 10 * time.Second}
	}
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	var mu sync.Mutex
	status := map[int]int{}
	var flooders []*http.Client
	for i := 1; i <= 4; i++ {
		c := client(fmt.Sprintf("127.0.0.%d", i))
		flooders = append(flooders, c)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < 20_000/16; n++ {
					resp, err := c.Get(url)
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					status[resp.StatusCode]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if status[200] != 4*perAddr || status[429] != 20_000-4*perAddr {
		t.Fatalf("flood answers %v, want %d x 200 and the rest 429", status, 4*perAddr)
	}
	if n := s.Sessions(); n != 4*perAddr {
		t.Fatalf("%d sessions open, want %d", n, 4*perAddr)
	}
	// Keep-alive connections hold goroutines of their own on both
	// sides (client reader and writer, server conn); close them and let
	// the server's conn goroutines see EOF before counting. What may
	// remain is bounded well below the 200 pending sessions, so a
	// goroutine per session still fails this.
	for _, c := range flooders {
		c.CloseIdleConnections()
	}
	g := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); g > before+64 && time.Now().Before(deadline); g = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	if g > before+64 {
		t.Fatalf("%d goroutines after the flood (%d before): pending sessions hold goroutines", g, before)
	}
	// The desk: its own address, polling handshake, CONNECT with auth.
	desk := client("127.0.0.5")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := desk.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct{ Sid string }
	if resp.StatusCode != 200 || json.Unmarshal(b[1:], &open) != nil {
		t.Fatalf("desk handshake during the flood: %d %q", resp.StatusCode, b)
	}
	sidURL := url + "&sid=" + open.Sid
	resp, err = desk.Post(sidURL, "text/plain", strings.NewReader(`40{"token":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = desk.Get(sidURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(b), "40{") {
		t.Fatalf("desk CONNECT during the flood: %q", b)
	}
}

// TestToWritten: the written callback runs once per socket, only after
// the packet was handed to that socket's connection (the client can read
// it), over websocket and over polling; To without it sends the same bytes.
func TestToWritten(t *testing.T) {
	s, url := start(t, socketio.Options{})
	nsp := s.Of("/")
	joined := make(chan struct{}, 2)
	nsp.OnConnection(func(sk *socketio.Socket) {
		sk.Join("r")
		joined <- struct{}{}
	})
	ws := dialWS(t, url)
	ws.send("40")
	ws.read()
	<-joined
	sid := pollHandshake(t, url)
	post(t, url, sid, "40")
	if m := poll(t, url, sid); !strings.HasPrefix(m, "40{") {
		t.Fatalf("connect answer %q", m)
	}
	<-joined
	written := make(chan struct{}, 4)
	n, err := nsp.ToWritten("r", func() { written <- struct{}{} }, "offer", 1)
	if n != 2 || err != nil {
		t.Fatalf("ToWritten: %d %v, want 2 sockets", n, err)
	}
	if m := ws.read(); m != `42["offer",1]` {
		t.Fatalf("websocket got %q", m)
	}
	<-written
	// The polling socket's packet waits in its queue until it polls: not
	// written yet, so at most the websocket's callback has run.
	if len(written) != 0 {
		t.Fatal("written ran for a packet still queued")
	}
	if m := poll(t, url, sid); m != `42["offer",1]` {
		t.Fatalf("poll got %q", m)
	}
	<-written
	if n, _ := nsp.To("r", "plain"); n != 2 {
		t.Fatalf("To: %d sockets", n)
	}
	if m := ws.read(); m != `42["plain"]` {
		t.Fatalf("websocket got %q", m)
	}
	if len(written) != 0 {
		t.Fatal("written ran again")
	}
}

// TestForgetAuth: with ForgetAuth the middleware reads the CONNECT payload
// and the connection handler finds none left; without it the handler
// reads it too.
func TestForgetAuth(t *testing.T) {
	for _, forget := range []bool{true, false} {
		s, url := start(t, socketio.Options{ForgetAuth: forget})
		seen := make(chan string, 1)
		s.Of("/").Use(func(sk *socketio.Socket) error {
			if a := string(sk.Handshake().Auth); a != `{"token":"t"}` {
				return fmt.Errorf("middleware read auth %q", a)
			}
			return nil
		})
		s.Of("/").OnConnection(func(sk *socketio.Socket) { seen <- string(sk.Handshake().Auth) })
		c := dialWS(t, url)
		c.send(`40{"token":"t"}`)
		if m := c.read(); !strings.HasPrefix(m, "40{") {
			t.Fatalf("forget %v: connect %q", forget, m)
		}
		want := `{"token":"t"}`
		if forget {
			want = ""
		}
		if a := <-seen; a != want {
			t.Fatalf("forget %v: the handler read auth %q, want %q", forget, a, want)
		}
	}
}
