package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/omniroute/omniroute/erasure"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/transcript"
)

// Options tune Conversations. The zero value of every field selects its
// default.
type Options struct {
	// Logger receives the failures nobody waits for (a system event not
	// recorded, a transcript append that failed). Default slog.Default().
	Logger *slog.Logger
	// Transcripts is where CIM messages and events go. Nil: an in-memory
	// log that Conversations creates and Close closes (tests, fixtures);
	// servers pass a log on transcript.JetStream, which they own.
	Transcripts *transcript.Log
	// CustomerKeys unseals conversations' sealed customer objects (the
	// customer's name in the events it sends; package erasure); nil:
	// used as stored.
	CustomerKeys *erasure.Keyring
	// MaxEventBytes bounds one CIM event as stored (default
	// DefaultMaxEventBytes; keep it at most the store's MaxEntryBytes); over
	// it: CodePayloadTooLarge.
	MaxEventBytes int
	// Now is the clock of the events' timestamps (default time.Now).
	Now func() time.Time
}

// Conversations is the conversation layer on one node: create with New,
// stop with Close after the adapters that use it. Safe for concurrent use.
type Conversations struct {
	n    *node.Node
	log  *slog.Logger
	opts Options
	cim  *transcript.Log
	own  bool

	// ctx ends at Close: the system events' appends derive from it.
	ctx       context.Context
	cancel    context.CancelFunc
	quit      chan struct{}
	sysDone   chan struct{}
	closeOnce sync.Once
}

// New builds the conversation layer of node n. It subscribes to n's
// events at once (the system events: systemevents.go), so nothing published
// after New returns is missed. Error: a nil node.
func New(n *node.Node, opts Options) (*Conversations, error) {
	if n == nil {
		return nil, errors.New("conversation: nil node")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxEventBytes <= 0 {
		opts.MaxEventBytes = DefaultMaxEventBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Conversations{n: n, log: opts.Logger, opts: opts, cim: opts.Transcripts, own: opts.Transcripts == nil,
		quit: make(chan struct{}), sysDone: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.own {
		c.cim = transcript.NewLog(transcript.NewMemory(transcript.Limits{MaxEntryBytes: opts.MaxEventBytes}))
	}
	events, cancel := n.Subscribe()
	go c.systemEvents(events, cancel)
	return c, nil
}

// Close stops following the node and closes the transcript log if New
// created it. Safe to call more than once.
func (c *Conversations) Close() {
	c.closeOnce.Do(func() {
		c.cancel()
		close(c.quit)
		<-c.sysDone
		if c.own {
			_ = c.cim.Close()
		}
	})
}

// MaxEventBytes is the size limit of one stored CIM event in use.
func (c *Conversations) MaxEventBytes() int { return c.opts.MaxEventBytes }

// Watch follows every conversation's new entries, in the order the log
// publishes them (per conversation: transcript order), each once it is
// durable. The channel is closed when the watcher is too slow (what it
// missed stays in the transcript) or the log closes; cancel stops it.
func (c *Conversations) Watch() (entries <-chan transcript.Entry, cancel func()) {
	return c.cim.Watch("", 0)
}

// Recipients returns, for each conversation of convs, the agents who see
// its entries now (the package's Recipients of each; a conversation the
// engine does not know has none), in one read of the engine. Error: the
// engine did not answer.
func (c *Conversations) Recipients(ctx context.Context, convs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(convs))
	err := c.n.View(ctx, func(st routing.View) {
		for _, conv := range convs {
			if cv, ok := st.Conversation(conv); ok {
				out[conv] = Recipients(cv)
			}
		}
	})
	return out, err
}

// Transcript returns the conversation's whole transcript, oldest first,
// every entry (agents see all; the customer's share is CustomerEvents').
// An unknown conversation has none.
func (c *Conversations) Transcript(ctx context.Context, conversation string) ([]transcript.Entry, error) {
	return c.cim.Read(ctx, conversation, 0, 0)
}

// Publish appends an agent's CIM event req (DecodeEvent, with
// req.Conversation set) to the open conversation, once the agent may
// publish it (a participant, and MayPublish for its role): the event is
// completed (ids, reply, header.sender, timestamps), appended durably, and
// reaches the participants through Watch (the sender's sockets too, as the
// echo of its own message). Errors (*routing.Error; nothing is stored
// then): CONVERSATION_NOT_FOUND, CONVERSATION_CLOSED, NOT_PARTICIPANT,
// ROLE_NOT_ALLOWED, REPLY_NOT_FOUND, INVALID_PAYLOAD, UNAVAILABLE; a
// *errcode.FieldError with CodePayloadTooLarge for an event over MaxEventBytes.
func (c *Conversations) Publish(ctx context.Context, agent string, req Request) error {
	var (
		rerr error
		name string
	)
	if err := c.n.View(ctx, func(st routing.View) {
		cv, ok := st.Conversation(req.Conversation)
		rerr = checkAgentPublish(cv, ok, req.Conversation, agent, req.Name)
		if as, ok := st.Agent(agent); ok {
			name = as.Agent.Name
		}
	}); err != nil {
		return err
	}
	if rerr != nil {
		return rerr
	}
	emitter := EventEmitter{ID: agent, Type: "AGENT", SenderName: name}
	sender := map[string]any{"id": agent, "type": "AGENT", "senderName": name, "additionalDetail": nil}
	p, err := c.prepare(ctx, req, emitter, sender)
	if err != nil {
		return err
	}
	_, err = c.append(ctx, p)
	return err
}

// PublishSystemEvent appends a system CIM event (type NOTIFICATION,
// emitter {id "omniroute", type SYSTEM}) named name with data (any value
// that encodes to a JSON object; nil for {}) to the conversation's
// transcript; the participants then get it and the customer stream shows
// it. Adapters use it for events the engine's events do not give.
// Errors: *routing.Error with CodePayloadTooLarge, CodeTranscriptFull,
// errcode.InvalidField or CodeUnavailable.
func (c *Conversations) PublishSystemEvent(ctx context.Context, conversation, name string, data any) error {
	return c.publishSystemEvent(ctx, conversation, name, data, false)
}

// PublishAgentEvent is PublishSystemEvent for the agents' and supervisors'
// eyes only: the customer stream never shows it (like a whisper). GMS uses
// it to bring a mobile user's agent-notification to the agent desk.
func (c *Conversations) PublishAgentEvent(ctx context.Context, conversation, name string, data any) error {
	return c.publishSystemEvent(ctx, conversation, name, data, true)
}

func (c *Conversations) publishSystemEvent(ctx context.Context, conversation, name string, data any, agentsOnly bool) error {
	rec, err := c.systemRecord(conversation, name, data, agentsOnly)
	if err != nil {
		return err
	}
	_, err = c.append(ctx, prepared{rec: rec})
	return err
}

// systemRecord is the transcript record of a system CIM event named name
// with data (nil for {}). Errors: errcode.InvalidField.
func (c *Conversations) systemRecord(conversation, name string, data any, agentsOnly bool) (transcript.Record, error) {
	if data == nil {
		data = map[string]any{}
	}
	raw, err := json.Marshal(data)
	if err != nil || len(raw) == 0 || raw[0] != '{' {
		return transcript.Record{}, refusal(errcode.InvalidField, "system event data must encode to a JSON object")
	}
	ev := SystemEvent(conversation, name, c.opts.Now().UTC(), raw)
	out, err := json.Marshal(ev)
	if err != nil {
		return transcript.Record{}, refusal(errcode.InvalidField, "the event cannot be encoded")
	}
	return transcript.Record{Conversation: conversation, ID: ev.ID, AgentsOnly: agentsOnly, Data: out}, nil
}

// SystemEvent is a system CIM event (type NOTIFICATION, emitter {id
// "omniroute", type SYSTEM}, a fresh id) named name of conversation at
// time at with data (a JSON object). Adapters send it as it is for what
// concerns one agent alone and is not part of the transcript (agentdesk: a
// transfer that found no agent); the rest is stored through
// PublishSystemEvent.
func SystemEvent(conversation, name string, at time.Time, data json.RawMessage) CimEvent {
	return CimEvent{ID: uuid.NewString(), Name: name, Type: "NOTIFICATION", Timestamp: at, ConversationID: conversation,
		RoomID: conversation, EventEmitter: EventEmitter{ID: "omniroute", Type: "SYSTEM"}, Data: data}
}

// transcriptError maps a transcript failure to a refusal.
func (c *Conversations) transcriptError(conversation string, err error) error {
	switch {
	case errors.Is(err, transcript.ErrTooLarge):
		return refusal(CodePayloadTooLarge, "the CIM event is over the size limit")
	case errors.Is(err, transcript.ErrConversationFull):
		return refusal(CodeTranscriptFull, "the transcript of conversation "+conversation+" is full")
	case errors.Is(err, transcript.ErrInvalid):
		return refusal(errcode.InvalidField, err.Error())
	}
	c.log.Warn("conversation: transcript append failed", "conversation", conversation, "err", err)
	return refusal(CodeUnavailable, "the transcript store did not accept the event; nothing was delivered")
}

// prepared is a CIM event ready to append.
type prepared struct {
	rec transcript.Record
}

// prepare finishes a decoded request into a stored CIM event: ids, reply,
// server-set fields (timestamp, conversationId, roomId, eventEmitter,
// header.sender and header.timestamp of a message), then checks the size.
//
// Replies (seed 004 "Reply to a Specific Message"): a message whose data.id
// is the id of an earlier message of the conversation is a reply to it; it
// gets a fresh id and header.originalMessageId set to the earlier one. A
// header.originalMessageId given explicitly must name an earlier message
// (CodeReplyNotFound otherwise).
func (c *Conversations) prepare(ctx context.Context, r Request, emitter EventEmitter, sender map[string]any) (prepared, error) {
	now := c.opts.Now().UTC()
	conv := r.Conversation
	ev := CimEvent{ID: r.EventID, Name: r.Name, Type: r.Type, Timestamp: now,
		ConversationID: conv, RoomID: conv, EventEmitter: emitter}
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	recID := ev.ID
	data := r.Data
	if r.Type == "MESSAGE" {
		msgID, replyTo := r.MessageID, r.ReplyTo
		if msgID != "" && replyTo == "" {
			dup, err := c.cim.Contains(ctx, conv, msgID)
			if err != nil {
				return prepared{}, c.transcriptError(conv, err)
			}
			if dup {
				replyTo, msgID = msgID, ""
			}
		} else if replyTo != "" {
			ok, err := c.cim.Contains(ctx, conv, replyTo)
			if err != nil {
				return prepared{}, c.transcriptError(conv, err)
			}
			if !ok {
				return prepared{}, refusal(CodeReplyNotFound, "no message "+replyTo+" in conversation "+conv)
			}
			if msgID != "" {
				if dup, err := c.cim.Contains(ctx, conv, msgID); err != nil || dup {
					msgID = ""
				}
			}
		}
		if msgID == "" {
			msgID = uuid.NewString()
		}
		hdr, _ := data["header"].(map[string]any)
		if hdr == nil {
			hdr = map[string]any{}
		}
		hdr["sender"] = sender
		hdr["timestamp"] = now.UnixMilli()
		hdr["conversationId"] = conv
		hdr["roomId"] = conv
		if replyTo != "" {
			hdr["originalMessageId"] = replyTo
		}
		if _, ok := hdr["channelData"]; !ok {
			hdr["channelData"] = map[string]any{"channelCustomerIdentifier": CustomerID(conv)}
		}
		data["header"] = hdr
		data["id"] = msgID
		recID = msgID
	}
	if data == nil {
		data = map[string]any{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return prepared{}, refusal(errcode.InvalidPayload, "data cannot be encoded")
	}
	ev.Data = raw
	out, err := json.Marshal(ev)
	if err != nil {
		return prepared{}, refusal(errcode.InvalidPayload, "the event cannot be encoded")
	}
	if max := c.opts.MaxEventBytes; len(out) > max {
		return prepared{}, overLimit(CodePayloadTooLarge, "cimEvent", max,
			"the CIM event is %d bytes as stored, over the limit of %d", len(out), max)
	}
	return prepared{rec: transcript.Record{Conversation: conv, ID: recID,
		AgentsOnly: agentsOnly(r.Name, false), Data: out}}, nil
}

// append stores p durably; delivery follows from the log's watchers.
func (c *Conversations) append(ctx context.Context, p prepared) (transcript.Entry, error) {
	e, err := c.cim.Append(ctx, p.rec)
	if err != nil {
		return e, c.transcriptError(p.rec.Conversation, err)
	}
	return e, nil
}
