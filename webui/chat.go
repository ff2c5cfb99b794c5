package webui

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/errcode"
	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/routing/waittime"
)

// The customer chat (GET /chat/{queue}): the page starts a conversation,
// shows its position and EWT while it waits, and then chats with the agent
// over the conversation's transcript (conversation.CustomerSide, the same the
// /v1 customer routes use: whispers never reach it).

// ChatStarted answers POST /ui/api/chat/{queue}.
type ChatStarted struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// ChatPosition is the "position" event of a chat's stream while the
// conversation waits: its 1-based place in the queue, how many wait, and
// the queue's EWT (waittime.Arrival) in seconds. Position 0: being offered.
type ChatPosition struct {
	Position   int     `json:"position"`
	Waiting    int     `json:"waiting"`
	EWTSeconds float64 `json:"ewtSeconds"`
}

func (u *UI) startChat(w http.ResponseWriter, r *http.Request) error {
	if u.o.Customers == nil {
		return apiErr(http.StatusServiceUnavailable, errcode.Unavailable, "chats are not served by this server")
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	body.Name = strings.TrimSpace(body.Name)
	if body.Name == "" || len(body.Name) > MaxNameBytes || !utf8.ValidString(body.Name) {
		return apiErr(http.StatusBadRequest, routing.CodeInvalidArgument, "name must be 1..%d bytes of UTF-8", MaxNameBytes)
	}
	customer, _ := json.Marshal(map[string]string{"firstName": body.Name})
	cmd := routing.CreateConversation{ID: u.o.NewID(), RequestID: u.o.NewID(), Queue: r.PathValue("queue"),
		Attributes: map[string]string{"channel": "web-chat"}}
	var err error
	if cmd.Customer, err = u.o.CustomerKeys.SealCustomer(customer, "conversation:"+cmd.ID); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if _, err := u.node.Submit(ctx, cmd); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ChatStarted{ID: cmd.ID, Key: u.chatKey(cmd.ID)})
	return nil
}

// chatPosition reads the conversation's place; ok is false once no request
// waits for it.
func (u *UI) chatPosition(ctx context.Context, conv string) (p ChatPosition, ok bool, err error) {
	err = u.node.View(ctx, func(st routing.View) {
		c, found := st.Conversation(conv)
		if !found || c.Request == nil {
			return
		}
		pos, waiting, found := st.Position(c.Request.ID)
		if !found {
			return
		}
		stats, _ := st.QueueStats(c.Queue, u.o.Now())
		p, ok = ChatPosition{Position: pos, Waiting: waiting, EWTSeconds: waittime.Arrival(st, stats, u.o.Now())}, true
	})
	return p, ok, err
}

// chatEvents is GET /ui/api/chat/{id}/events[?after=N] (X-Chat-Key: K): "position"
// events while the conversation waits (after every change of its queue,
// from the board), and "cimEvent" events (id: transcript sequence) of the
// customer's transcript.
func (u *UI) chatEvents(w http.ResponseWriter, r *http.Request) error {
	conv := r.PathValue("id")
	if err := u.checkChatKey(r, conv); err != nil {
		return err
	}
	var after uint64
	if a := r.URL.Query().Get("after"); a != "" {
		if err := json.Unmarshal([]byte(a), &after); err != nil {
			return apiErr(http.StatusBadRequest, routing.CodeInvalidArgument, "after must be a transcript sequence")
		}
	}
	updates, cancelSub := u.board.subscribe()
	defer cancelSub()
	pos, waiting, err := u.chatPosition(r.Context(), conv)
	if err != nil {
		return err
	}
	s, err := startSSE(w)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go s.keepAlive(ctx, u.o.Clock, cancel)
	var queue string
	_ = u.node.View(ctx, func(st routing.View) {
		if c, ok := st.Conversation(conv); ok {
			queue = c.Queue
		}
	})
	sendPos := func(p ChatPosition) error {
		b, _ := json.Marshal(p)
		return s.event("position", b)
	}
	if waiting {
		if sendPos(pos) != nil {
			return nil
		}
		go func() {
			for up := range updates {
				touched := false
				for _, q := range up.queues {
					touched = touched || q.id == queue
				}
				if !touched {
					continue
				}
				p, still, err := u.chatPosition(ctx, conv)
				if err != nil || !still {
					_ = sendPos(ChatPosition{})
					cancelSub()
					return
				}
				if p != pos {
					pos = p
					if sendPos(p) != nil {
						cancel()
						return
					}
				}
			}
		}()
	} else {
		cancelSub()
	}
	err = u.o.Customers.CustomerEvents(ctx, conv, after, func(seq uint64, ev json.RawMessage) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = s.rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		n, err := w.Write(conversation.SSEFrame(seq, ev))
		s.bytes += int64(n)
		if err == nil {
			s.f.Flush()
		}
		return err
	})
	if err != nil && ctx.Err() == nil {
		b, _ := json.Marshal(errcode.Body{Error: errcode.Detail{Code: errcode.Unavailable, Message: err.Error()}})
		_ = s.event("error", b)
	}
	return nil
}

// chatMessage is POST /ui/api/chat/{id}/messages {text}: a PLAIN
// CUSTOMER_MESSAGE.
func (u *UI) chatMessage(w http.ResponseWriter, r *http.Request) error {
	conv := r.PathValue("id")
	if err := u.checkChatKey(r, conv); err != nil {
		return err
	}
	var body struct {
		Text string `json:"text"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if strings.TrimSpace(body.Text) == "" || len(body.Text) > MaxChatTextBytes {
		return apiErr(http.StatusBadRequest, routing.CodeInvalidArgument, "text must be 1..%d bytes", MaxChatTextBytes)
	}
	msg, _ := json.Marshal(map[string]any{
		"id":     u.o.NewID(),
		"header": map[string]any{"sender": map[string]string{"id": conv, "type": "CUSTOMER"}},
		"body":   map[string]string{"type": "PLAIN", "markdownText": body.Text},
	})
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	seq, ev, err := u.o.Customers.CustomerMessage(ctx, conv, msg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, conversation.CustomerEventBody{Seq: seq, CimEvent: ev})
	return nil
}

// chatLeave is POST /ui/api/chat/{id}/leave: the customer closed the chat.
func (u *UI) chatLeave(w http.ResponseWriter, r *http.Request) error {
	conv := r.PathValue("id")
	if err := u.checkChatKey(r, conv); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	// A conversation still waiting is abandoned (the customer never got an
	// agent); one in progress gets CUSTOMER_LEFT. The engine tells which.
	abandoned, seq, ev, err := u.o.Customers.CustomerClosed(ctx, conv)
	if err != nil {
		return err
	}
	if abandoned {
		writeJSON(w, http.StatusOK, map[string]string{"conversation": conv, "outcome": "ABANDONED"})
		return nil
	}
	writeJSON(w, http.StatusOK, conversation.CustomerEventBody{Seq: seq, CimEvent: ev})
	return nil
}
