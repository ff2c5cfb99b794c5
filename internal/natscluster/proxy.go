package natscluster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Proxy relays NATS client connections to one server on 127.0.0.1 and can
// disturb them the ways a network does, at NATS message boundaries:
//
//   - Blackhole: everything the clients and the server send is dropped and
//     new connections get no answer (a partition: the client's calls hang
//     until their timeouts, it cannot tell a dead server from a slow one).
//   - Hold: what the clients send is kept, in order, until Release (a
//     packet delayed in a queue, or a process paused with a write already
//     sent); what the server sends still flows.
//
// The proxy removes connect_urls from the server's INFO, so its clients
// know no other server than the proxy: a client cut off stays cut off, as
// on a real partitioned host, instead of reconnecting to a server it
// learned of.
type Proxy struct {
	ln       net.Listener
	upstream string

	mu        sync.Mutex
	changed   *sync.Cond
	blackhole bool
	holding   bool
	conns     map[*proxyConn]bool
	watch     map[string]chan Msg
	closed    bool
}

// Msg is one NATS protocol message as the proxy saw it.
type Msg struct {
	// Op is the operation, upper-case: PUB, HPUB, MSG, HMSG, PING, SUB...
	Op string
	// Subject and Reply of a PUB, HPUB, MSG or HMSG.
	Subject, Reply string
	// Header (HPUB, HMSG) and Payload.
	Header, Payload []byte
	raw             []byte
}

type proxyConn struct {
	client, server net.Conn
	held           []Msg
	out            chan []byte // to the client
	blackholed     bool
	once           sync.Once
}

// StartProxy listens on a free port of 127.0.0.1 and relays to upstream
// ("127.0.0.1:port" or a nats:// URL).
func StartProxy(upstream string) (*Proxy, error) {
	upstream = strings.TrimPrefix(upstream, "nats://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, upstream: upstream, conns: map[*proxyConn]bool{}, watch: map[string]chan Msg{}}
	p.changed = sync.NewCond(&p.mu)
	go p.accept()
	return p, nil
}

// URL is the proxy's client URL.
func (p *Proxy) URL() string { return "nats://" + p.ln.Addr().String() }

func (p *Proxy) accept() {
	for {
		cl, err := p.ln.Accept()
		if err != nil {
			return
		}
		c := &proxyConn{client: cl, out: make(chan []byte, 1<<16)}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			cl.Close()
			return
		}
		c.blackholed = p.blackhole
		p.conns[c] = true
		p.mu.Unlock()
		if c.blackholed {
			go func() { _, _ = io.Copy(io.Discard, cl); p.drop(c) }()
			continue
		}
		srv, err := net.Dial("tcp", p.upstream)
		if err != nil {
			p.drop(c)
			continue
		}
		c.server = srv
		go p.toClient(c)
		go p.fromClient(c)
		go func() {
			for b := range c.out {
				if _, err := cl.Write(b); err != nil {
					p.drop(c)
					return
				}
			}
		}()
	}
}

func (p *Proxy) drop(c *proxyConn) {
	c.once.Do(func() {
		c.client.Close()
		if c.server != nil {
			c.server.Close()
		}
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	})
}

// fromClient relays client messages: passed, held or dropped.
func (p *Proxy) fromClient(c *proxyConn) {
	defer p.drop(c)
	r := bufio.NewReaderSize(c.client, 64<<10)
	for {
		m, err := readMsg(r, false)
		if err != nil {
			return
		}
		p.mu.Lock()
		switch {
		case c.blackholed:
		case p.holding:
			c.held = append(c.held, m)
			p.changed.Broadcast()
		default:
			_, err = c.server.Write(m.raw)
		}
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// toClient relays server messages (never blocking on a client that does
// not read: a paused process) and tells the watchers.
func (p *Proxy) toClient(c *proxyConn) {
	defer close(c.out)
	defer p.drop(c)
	r := bufio.NewReaderSize(c.server, 64<<10)
	for {
		m, err := readMsg(r, true)
		if err != nil {
			return
		}
		if m.Op == "INFO" {
			m.raw = stripConnectURLs(m.raw)
		}
		p.mu.Lock()
		bh := c.blackholed
		if ch, ok := p.watch[m.Subject]; ok && m.Subject != "" && !bh {
			select {
			case ch <- m:
			default:
			}
		}
		p.mu.Unlock()
		if bh {
			continue
		}
		select {
		case c.out <- m.raw:
		default: // a client this far behind is gone
			return
		}
	}
}

// stripConnectURLs removes the other servers' addresses from an INFO line.
func stripConnectURLs(line []byte) []byte {
	js := bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(line), []byte("INFO")))
	var info map[string]json.RawMessage
	if json.Unmarshal(js, &info) != nil {
		return line
	}
	delete(info, "connect_urls")
	delete(info, "ws_connect_urls")
	b, err := json.Marshal(info)
	if err != nil {
		return line
	}
	return append(append([]byte("INFO "), b...), '\r', '\n')
}

// maxProxiedMsg bounds one relayed message (the journal's entries are far
// smaller).
const maxProxiedMsg = 64 << 20

// readMsg reads one protocol message; fromServer selects the MSG/HMSG
// argument layout (with a subscription id) over PUB/HPUB.
func readMsg(r *bufio.Reader, fromServer bool) (Msg, error) {
	line, err := r.ReadBytes('\n')
	if err != nil {
		return Msg{}, err
	}
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return Msg{Op: "", raw: line}, nil
	}
	m := Msg{Op: strings.ToUpper(f[0]), raw: line}
	args := f[1:]
	hdr, total := -1, -1
	switch m.Op {
	case "PUB", "HPUB", "MSG", "HMSG":
	default:
		return m, nil
	}
	if fromServer && len(args) > 1 { // drop the subscription id
		args = append([]string{args[0]}, args[2:]...)
	}
	headers := m.Op[0] == 'H'
	need := 2
	if headers {
		need = 3
	}
	if len(args) < need {
		return Msg{}, fmt.Errorf("natscluster proxy: bad %s line %q", m.Op, line)
	}
	m.Subject = args[0]
	if len(args) > need {
		m.Reply = args[1]
	}
	if total, err = strconv.Atoi(args[len(args)-1]); err != nil || total < 0 || total > maxProxiedMsg {
		return Msg{}, fmt.Errorf("natscluster proxy: bad size in %q", line)
	}
	hdr = 0
	if headers {
		if hdr, err = strconv.Atoi(args[len(args)-2]); err != nil || hdr < 0 || hdr > total {
			return Msg{}, fmt.Errorf("natscluster proxy: bad header size in %q", line)
		}
	}
	body := make([]byte, total+2)
	if _, err := io.ReadFull(r, body); err != nil {
		return Msg{}, err
	}
	m.Header, m.Payload = body[:hdr], body[hdr:total]
	m.raw = append(append([]byte{}, line...), body...)
	return m, nil
}

// Blackhole cuts the clients off: nothing passes either way, new
// connections get no answer, until Heal.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = true
	for c := range p.conns {
		c.blackholed = true
	}
}

// Heal ends a Blackhole: the cut connections are closed (their streams
// lost messages) and new ones pass, so the clients reconnect.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.blackhole = false
	var cut []*proxyConn
	for c := range p.conns {
		if c.blackholed {
			cut = append(cut, c)
		}
	}
	p.mu.Unlock()
	for _, c := range cut {
		p.drop(c)
	}
}

// Hold keeps every message the clients send from now on until Release.
func (p *Proxy) Hold() {
	p.mu.Lock()
	p.holding = true
	p.mu.Unlock()
}

// Release sends the held messages to the server, in order, and lets the
// clients' messages pass again.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding = false
	for c := range p.conns {
		for _, m := range c.held {
			if c.server != nil {
				_, _ = c.server.Write(m.raw)
			}
		}
		c.held = nil
	}
}

// WaitHeld waits for a held client message match accepts and returns it.
// Errors: none within timeout.
func (p *Proxy) WaitHeld(match func(Msg) bool, timeout time.Duration) (Msg, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.changed.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for c := range p.conns {
			for _, m := range c.held {
				if match(m) {
					return m, nil
				}
			}
		}
		if !time.Now().Before(deadline) {
			return Msg{}, errors.New("natscluster proxy: no matching message held within " + timeout.String())
		}
		p.changed.Wait()
	}
}

// Watch returns a channel that gets the next message the server sends to
// subject (a reply inbox, say); call it before the message can come.
func (p *Proxy) Watch(subject string) <-chan Msg {
	ch := make(chan Msg, 1)
	p.mu.Lock()
	p.watch[subject] = ch
	p.mu.Unlock()
	return ch
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	var all []*proxyConn
	for c := range p.conns {
		all = append(all, c)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range all {
		p.drop(c)
	}
}
