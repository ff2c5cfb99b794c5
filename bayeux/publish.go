package bayeux

import (
	"encoding/json"
	"fmt"
)

// Publish sends data on channel to every session subscribed to it, directly
// or through a wildcard ("/foo/*", "/foo/**"); a session matched by several
// subscriptions gets the message once. data must be valid JSON (nil is sent
// as null). It returns the number of sessions the message was queued for,
// or an error when the channel is not a concrete non-meta channel or data
// or WithExt is not valid JSON. A session whose queue overflows is removed.
// WithFilter restricts the recipients to some of the subscribers.
func (s *Server) Publish(channel string, data json.RawMessage, opts ...PublishOption) (int, error) {
	d := Delivery{Channel: channel, Data: data}
	for _, o := range opts {
		o(&d)
	}
	raw, err := encodeDelivery(d)
	if err != nil {
		return 0, err
	}
	return s.deliver(channel, raw, d.Seq, d.filter), nil
}

// encodeDelivery validates d and encodes it once for every recipient.
func encodeDelivery(d Delivery) ([]byte, error) {
	if err := validChannel(d.Channel, false); err != nil {
		return nil, fmt.Errorf("bayeux: publish to %q: %w", d.Channel, err)
	}
	if isMeta(d.Channel) {
		return nil, fmt.Errorf("bayeux: publish to %q: meta channels are not publishable", d.Channel)
	}
	if d.Data != nil && !json.Valid(d.Data) {
		return nil, fmt.Errorf("bayeux: publish to %q: data is not valid JSON", d.Channel)
	}
	if d.Ext != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(d.Ext, &obj) != nil {
			return nil, fmt.Errorf("bayeux: publish to %q: ext is not a JSON object", d.Channel)
		}
	}
	type wire struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
		ID      string          `json:"id,omitempty"`
		Ext     json.RawMessage `json:"ext,omitempty"`
	}
	data := d.Data
	if data == nil {
		data = json.RawMessage("null")
	}
	return json.Marshal(wire{Channel: d.Channel, Data: data, ID: d.ID, Ext: d.Ext})
}

// deliver queues raw for every subscriber of channel that match (nil: all)
// accepts.
func (s *Server) deliver(channel string, raw []byte, seq int64, match func(*Client) bool) int {
	var pats [8]string
	patterns := matchPatterns(channel, pats[:0])
	var overflow []*Client
	n := 0
	s.mu.RLock()
	// Most publishes match one pattern's subscribers; only when several
	// patterns have subscribers is a per-publish set needed to deliver once.
	var matched map[*Client][]string
	single := -1
	for i, p := range patterns {
		if len(s.index[p]) == 0 {
			continue
		}
		if single == -1 && matched == nil {
			single = i
			continue
		}
		if matched == nil {
			matched = make(map[*Client][]string)
			for c := range s.index[patterns[single]] {
				matched[c] = []string{patterns[single]}
			}
		}
		for c := range s.index[p] {
			matched[c] = append(matched[c], p)
		}
	}
	if matched == nil && single >= 0 {
		one := patterns[single : single+1]
		for c := range s.index[patterns[single]] {
			if match != nil && !match(c) {
				continue
			}
			if c.offer(raw, seq, one, s.opts.MaxQueuedMessages) {
				overflow = append(overflow, c)
			}
			n++
		}
	}
	for c, ps := range matched {
		if match != nil && !match(c) {
			continue
		}
		if c.offer(raw, seq, ps, s.opts.MaxQueuedMessages) {
			overflow = append(overflow, c)
		}
		n++
	}
	s.mu.RUnlock()
	for _, c := range overflow {
		s.dropOverflow(c)
	}
	return n
}

// offer queues raw for c, or holds it in a replay buffer when every pattern
// it matched is still replaying. It reports whether the queue overflowed.
func (c *Client) offer(raw []byte, seq int64, patterns []string, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return false
	}
	var buf *replayBuf
	for _, p := range patterns {
		b := c.replaying[p]
		if b == nil {
			buf = nil
			break
		}
		if buf == nil {
			buf = b
		}
	}
	if buf != nil {
		buf.items = append(buf.items, bufItem{raw: raw, seq: seq})
		c.buffered++
		return len(c.queue)+c.buffered > limit
	}
	if seq != 0 && len(c.replayedTo) > 0 {
		covered := true
		for _, p := range patterns {
			if seq > c.replayedTo[p] {
				covered = false
				break
			}
		}
		if covered {
			return false
		}
	}
	c.queue = append(c.queue, queued{raw: raw})
	c.signal()
	return len(c.queue)+c.buffered > limit
}

func (s *Server) publishFromClient(m *Message) *reply {
	rep := replyTo(m)
	rep.Subscription = nil
	c := s.Client(m.ClientID)
	if c == nil {
		return rep.unknownClient()
	}
	if err := s.auth.Publish(c, m); err != nil {
		return rep.failErr(err, 403)
	}
	if !isService(m.Channel) {
		raw, err := encodeDelivery(Delivery{Channel: m.Channel, Data: m.Data, ID: m.ID})
		if err != nil {
			return rep.fail(400, err.Error())
		}
		s.deliver(m.Channel, raw, 0, nil)
	}
	rep.Successful = true
	return rep
}
