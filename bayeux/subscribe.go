package bayeux

import (
	"encoding/json"
	"fmt"
)

// subscribeReplay is one channel of a subscribe that asked for replay.
type subscribeReplay struct {
	channel string
	id      int64
	isNew   bool
}

func (s *Server) subscribe(m *Message) *reply {
	rep := replyTo(m)
	if len(m.Subscriptions) == 0 {
		return rep.fail(400, "Missing subscription")
	}
	c := s.Client(m.ClientID)
	if c == nil {
		return rep.unknownClient()
	}
	var replayMap map[string]int64
	if s.opts.Replayer != nil {
		if raw, ok := m.Ext["replay"]; ok {
			if err := json.Unmarshal(raw, &replayMap); err != nil {
				return rep.fail(400, "ext.replay must map channels to replay ids")
			}
		}
	}
	for _, ch := range m.Subscriptions {
		if err := validChannel(ch, true); err != nil {
			return rep.fail(400, "Bad subscription "+ch+": "+err.Error())
		}
		if isMeta(ch) || ch == "/*" || ch == "/**" {
			return rep.fail(403, "Cannot subscribe to "+ch)
		}
		if err := s.auth.Subscribe(c, ch); err != nil {
			return rep.failErr(err, 403)
		}
	}
	var replays []subscribeReplay
	s.mu.Lock()
	if s.clients[c.id] != c {
		s.mu.Unlock()
		return rep.unknownClient()
	}
	added := 0
	for _, ch := range m.Subscriptions {
		if _, ok := c.subs[ch]; !ok {
			added++
		}
	}
	if len(c.subs)+added > s.opts.MaxSubscriptionsPerClient {
		s.mu.Unlock()
		return rep.fail(403, fmt.Sprintf("Too many subscriptions (limit %d)", s.opts.MaxSubscriptionsPerClient))
	}
	c.mu.Lock()
	for _, ch := range m.Subscriptions {
		_, had := c.subs[ch]
		if !had {
			c.subs[ch] = struct{}{}
			set := s.index[ch]
			if set == nil {
				set = make(map[*Client]struct{})
				s.index[ch] = set
			}
			set[c] = struct{}{}
		}
		if s.opts.Replayer == nil {
			continue
		}
		id, ok := replayMap[ch]
		if !ok {
			id, ok = c.replayDefaults[ch]
		}
		if !ok || c.replaying[ch] != nil {
			continue
		}
		if c.replaying == nil {
			c.replaying = make(map[string]*replayBuf)
		}
		c.replaying[ch] = &replayBuf{}
		replays = append(replays, subscribeReplay{channel: ch, id: id, isNew: !had})
	}
	c.mu.Unlock()
	s.mu.Unlock()

	var failed error
	for _, rp := range replays {
		var backlog []Delivery
		var err error
		if failed == nil {
			backlog, err = s.opts.Replayer.Replay(c, rp.channel, rp.id)
			if err != nil {
				failed = err
			}
		}
		if failed != nil {
			s.finishReplay(c, rp.channel, nil, false)
			if rp.isNew {
				s.mu.Lock()
				if c.subs != nil {
					delete(c.subs, rp.channel)
					s.unindex(rp.channel, c)
				}
				s.mu.Unlock()
			}
			continue
		}
		s.finishReplay(c, rp.channel, backlog, true)
	}
	if failed != nil {
		return rep.failErr(failed, 500)
	}
	if s.opts.OnSubscribe != nil {
		s.opts.OnSubscribe(c, m.Subscriptions)
	}
	rep.Successful = true
	return rep
}

// finishReplay queues the backlog, then the live messages buffered while it
// was fetched (minus those the backlog already holds, by Seq), and makes the
// subscription live.
func (s *Server) finishReplay(c *Client, channel string, backlog []Delivery, ok bool) {
	var encoded [][]byte
	var maxSeq int64
	for _, d := range backlog {
		raw, err := encodeDelivery(d)
		if err != nil {
			s.log.Error("bayeux: replayer returned a bad message; skipped", "clientId", c.id, "channel", channel, "err", err)
			continue
		}
		encoded = append(encoded, raw)
		maxSeq = max(maxSeq, d.Seq)
	}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	buf := c.replaying[channel]
	delete(c.replaying, channel)
	if ok {
		for _, raw := range encoded {
			c.queue = append(c.queue, queued{raw: raw})
		}
		if maxSeq > 0 {
			if c.replayedTo == nil {
				c.replayedTo = make(map[string]int64)
			}
			c.replayedTo[channel] = maxSeq
		}
	}
	if buf != nil {
		c.buffered -= len(buf.items)
		for _, it := range buf.items {
			if ok && maxSeq > 0 && it.seq != 0 && it.seq <= maxSeq {
				continue
			}
			c.queue = append(c.queue, queued{raw: it.raw})
		}
	}
	over := len(c.queue)+c.buffered > s.opts.MaxQueuedMessages
	c.signal()
	c.mu.Unlock()
	if over {
		s.dropOverflow(c)
	}
}

func (s *Server) unsubscribe(m *Message) *reply {
	rep := replyTo(m)
	if len(m.Subscriptions) == 0 {
		return rep.fail(400, "Missing subscription")
	}
	c := s.Client(m.ClientID)
	if c == nil {
		return rep.unknownClient()
	}
	for _, ch := range m.Subscriptions {
		if err := validChannel(ch, true); err != nil {
			return rep.fail(400, "Bad subscription "+ch+": "+err.Error())
		}
	}
	s.mu.Lock()
	if s.clients[c.id] != c {
		s.mu.Unlock()
		return rep.unknownClient()
	}
	for _, ch := range m.Subscriptions {
		if _, ok := c.subs[ch]; ok {
			delete(c.subs, ch)
			s.unindex(ch, c)
		}
	}
	s.mu.Unlock()
	c.mu.Lock()
	for _, ch := range m.Subscriptions {
		delete(c.replayedTo, ch) // a later subscribe replays afresh
	}
	c.mu.Unlock()
	rep.Successful = true
	return rep
}
