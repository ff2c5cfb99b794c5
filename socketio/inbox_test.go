package socketio_test

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/omniroute/omniroute/socketio"
)

// TestHandledInOrderWhileBlocked: a handler that blocks holds up the
// session's later messages (the reader stops at its bound), and once it
// returns every message is handled, in the order sent, none lost.
func TestHandledInOrderWhileBlocked(t *testing.T) {
	s, url := start(t, socketio.Options{})
	const n = 200 // well past the inbox bound
	release := make(chan struct{})
	got := make(chan int, n)
	s.Of("/").OnConnection(func(sk *socketio.Socket) {
		sk.OnEvent(func(ev *socketio.Event) {
			i, err := strconv.Atoi(strings.Trim(string(ev.Args[0]), `"`))
			if err != nil {
				t.Errorf("arg %s", ev.Args[0])
			}
			if i == 0 {
				<-release
			}
			got <- i
		})
	})
	c := dialWS(t, url)
	c.send("40")
	if m := c.read(); !strings.HasPrefix(m, `40{"sid":"`) {
		t.Fatalf("connect answer %q", m)
	}
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.c.WriteMessage(websocket.TextMessage, []byte(`42["n","`+strconv.Itoa(i)+`"]`)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	select {
	case i := <-got:
		t.Fatalf("message %d handled while the first handler blocks", i)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	for want := range n {
		select {
		case i := <-got:
			if i != want {
				t.Fatalf("handled %d, want %d", i, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d not handled", want)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// TestHandshakeKeeps: HandshakeHeaders and HandshakeQuery keep only the
// names listed (header names in any case); nil keeps everything.
func TestHandshakeKeeps(t *testing.T) {
	for _, tc := range []struct {
		name            string
		headers, query  []string
		wantAuth, wantX string
		wantEIO, wantK  string
	}{
		{name: "all", wantAuth: "Bearer a", wantX: "x", wantEIO: "4", wantK: "v"},
		{name: "some", headers: []string{"authorization"}, query: []string{"k"}, wantAuth: "Bearer a", wantK: "v"},
		{name: "none", headers: []string{}, query: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, url := start(t, socketio.Options{HandshakeHeaders: tc.headers, HandshakeQuery: tc.query})
			hs := make(chan *socketio.Handshake, 1)
			s.Of("/").OnConnection(func(sk *socketio.Socket) { hs <- sk.Handshake() })
			u := strings.Replace(url, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket&k=v"
			c, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer a"}, "X-Other": {"x"}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			w := &wsClient{t: t, c: c}
			w.read() // open
			w.send("40")
			w.read() // connect answer
			h := <-hs
			if got := h.Header.Get("Authorization"); got != tc.wantAuth {
				t.Errorf("Authorization %q, want %q", got, tc.wantAuth)
			}
			if got := h.Header.Get("X-Other"); got != tc.wantX {
				t.Errorf("X-Other %q, want %q", got, tc.wantX)
			}
			if got := h.Query.Get("EIO"); got != tc.wantEIO {
				t.Errorf("EIO %q, want %q", got, tc.wantEIO)
			}
			if got := h.Query.Get("k"); got != tc.wantK {
				t.Errorf("k %q, want %q", got, tc.wantK)
			}
		})
	}
}

// readersWaiting counts the goroutines whose stack is in a session's
// reading loop, and those of them parked in a select (the wait at a full
// inbox).
func readersWaiting() (readers, inSelect int) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "socketio.(*session).readLoop(") {
			readers++
			if strings.Contains(g, "[select") {
				inSelect++
			}
		}
	}
	return readers, inSelect
}

// TestFullInboxReaderEndsOnClose: a reader (its frame, not the handler
// it created) that waits for room in a full
// inbox (the handler blocks) ends when the session closes, though nothing
// else wakes it: the session's done channel, made by that wait, is closed.
func TestFullInboxReaderEndsOnClose(t *testing.T) {
	s, url := start(t, socketio.Options{})
	release := make(chan struct{})
	defer close(release)
	first := make(chan *socketio.Socket, 1)
	s.Of("/").OnConnection(func(sk *socketio.Socket) {
		sk.OnEvent(func(*socketio.Event) {
			select {
			case first <- sk:
				<-release
			default:
			}
		})
	})
	c := dialWS(t, url)
	c.send("40")
	if m := c.read(); !strings.HasPrefix(m, `40{"sid":"`) {
		t.Fatalf("connect answer %q", m)
	}
	for i := range 100 { // past the inbox bound; small enough for the socket buffers
		c.send(`42["n","` + strconv.Itoa(i) + `"]`)
	}
	sk := <-first
	deadline := time.Now().Add(10 * time.Second)
	for _, waiting := readersWaiting(); waiting == 0; _, waiting = readersWaiting() {
		if time.Now().After(deadline) {
			t.Fatal("the reader never waited at the full inbox")
		}
		time.Sleep(time.Millisecond) // polling a condition
	}
	sk.Disconnect(true)
	for readers, _ := readersWaiting(); readers > 0; readers, _ = readersWaiting() {
		if time.Now().After(deadline) {
			t.Fatal("the reader still waits after the session closed")
		}
		time.Sleep(time.Millisecond)
	}
}
