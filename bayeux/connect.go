package bayeux

import (
	"context"
	"encoding/json"
	"time"
)

type waiter struct {
	release chan struct{}
}

// pendingConnect is a /meta/connect accepted and waiting for messages.
type pendingConnect struct {
	c       *Client
	w       *waiter
	m       *Message
	timeout time.Duration
}

// signal wakes the held connect, if any; c.mu is held.
func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// beginConnect registers m as c's held connect (releasing any earlier one)
// and applies the ack extension's acknowledgement. It returns a reply
// instead when the connect is refused.
func (s *Server) beginConnect(m *Message) (*pendingConnect, *reply) {
	c := s.Client(m.ClientID)
	if c == nil {
		return nil, replyTo(m).unknownClient()
	}
	timeout := s.opts.ConnectTimeout
	if m.adviceTimeout != nil && *m.adviceTimeout >= 0 {
		if t := time.Duration(*m.adviceTimeout * float64(time.Millisecond)); t < timeout {
			timeout = t
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return nil, replyTo(m).unknownClient()
	}
	c.connected = true
	if c.ack {
		// CometD ack extension: ext.ack is the last batch the client got.
		// Batches up to it are done; later ones were sent but lost, so
		// they are queued again, ahead of newer messages.
		if raw, ok := m.Ext["ack"]; ok {
			var acked int64
			if json.Unmarshal(raw, &acked) == nil {
				kept := c.queue[:0]
				for _, q := range c.queue {
					if q.batch != 0 && q.batch <= acked {
						continue
					}
					q.batch = 0
					kept = append(kept, q)
				}
				clear(c.queue[len(kept):])
				c.queue = kept
			}
		}
	}
	if c.cur != nil {
		close(c.cur.release)
	}
	w := &waiter{release: make(chan struct{})}
	c.cur = w
	c.lastActive = s.opts.Clock.Now()
	return &pendingConnect{c: c, w: w, m: m, timeout: timeout}, nil
}

// abandonConnect forgets a held connect whose transport went away, so the
// session's MaxInterval starts counting.
func (s *Server) abandonConnect(p *pendingConnect) {
	c := p.c
	c.mu.Lock()
	if c.cur == p.w {
		c.cur = nil
		c.lastActive = s.opts.Clock.Now()
	}
	c.mu.Unlock()
}

// connectReply builds the reply to a connect; ext is the ack extension's.
func (s *Server) connectReply(p *pendingConnect, ext map[string]any) *reply {
	rep := replyTo(p.m)
	rep.Successful = true
	rep.Advice = s.advice()
	rep.Ext = ext
	return rep
}

// waitConnect holds p until messages are queued, its timeout passes, a
// newer connect releases it, the session ends or ctx is done. It returns
// the messages and the connect reply, or ok=false when ctx ended first and
// nothing must be written.
func (s *Server) waitConnect(ctx context.Context, p *pendingConnect) (msgs [][]byte, rep *reply, ok bool) {
	c := p.c
	var timeout <-chan time.Time
	if p.timeout > 0 {
		timer := s.opts.Clock.NewTimer(p.timeout)
		defer timer.Stop()
		timeout = timer.C()
	}
	expired := p.timeout <= 0
	for {
		c.mu.Lock()
		switch {
		case c.dead:
			reason := c.endReason
			c.mu.Unlock()
			if reason == "disconnect" {
				// The client's own /meta/disconnect ended the session: the
				// held connect ends successfully with reconnect none, as
				// CometD's server answers it. A failed reply here would
				// race the disconnect reply (another request, maybe another
				// connection): the CometD client, given the failed connect
				// first, aborts its requests in flight and fails its own
				// disconnect.
				rep := replyTo(p.m)
				rep.Successful = true
				rep.Advice = map[string]any{"reconnect": "none"}
				return nil, rep, true
			}
			return nil, replyTo(p.m).unknownClient(), true
		case c.cur != p.w:
			// Released by a newer connect: answer empty, without ext.ack,
			// so the client does not acknowledge a batch it never saw.
			c.mu.Unlock()
			return nil, s.connectReply(p, nil), true
		}
		unsent := 0
		for _, q := range c.queue {
			if q.batch == 0 {
				unsent++
			}
		}
		if unsent > 0 || expired {
			var ext map[string]any
			if c.ack {
				c.batch++
				for i := range c.queue {
					if c.queue[i].batch == 0 {
						c.queue[i].batch = c.batch
						msgs = append(msgs, c.queue[i].raw)
					}
				}
				ext = map[string]any{"ack": c.batch}
			} else {
				for _, q := range c.queue {
					msgs = append(msgs, q.raw)
				}
				clear(c.queue)
				c.queue = c.queue[:0]
			}
			c.cur = nil
			c.lastActive = s.opts.Clock.Now()
			c.mu.Unlock()
			return msgs, s.connectReply(p, ext), true
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-p.w.release:
		case <-c.done:
		case <-timeout:
			expired = true
		case <-ctx.Done():
			s.abandonConnect(p)
			return nil, nil, false
		}
	}
}
