package conversation_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/omniroute/omniroute/conversation"
	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// TestCustomerClosed: closing the chat abandons a conversation that waits
// for an agent (no CUSTOMER_LEFT in the transcript, the conversation
// closed ABANDONED) and, once an agent has it, records CUSTOMER_LEFT; the engine
// decides in the one command. A second close is refused.
func TestCustomerClosed(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	n, err := node.Open(ctx, node.Config{Journal: memjournal.New(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c, err := conversation.New(n, conversation.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, cmd := range []routing.Command{
		routing.UpsertMRD{MRD: routing.MRD{ID: "chat", MaxRequests: 2}},
		routing.UpsertQueue{Queue: routing.Queue{ID: "q", MRD: "chat", RONATimeout: time.Hour}},
		routing.UpsertAgent{Agent: routing.Agent{ID: "a1"}},
		routing.CreateConversation{ID: "waits", RequestID: "r1", Queue: "q"},
	} {
		if _, err := n.Submit(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	abandoned, _, ev, err := c.CustomerClosed(ctx, "waits")
	if err != nil || !abandoned || ev != nil {
		t.Fatalf("waiting: abandoned %v, event %s, err %v; want abandoned", abandoned, ev, err)
	}
	var closed routing.Conversation
	_ = n.View(ctx, func(st routing.View) { closed, _ = st.Conversation("waits") })
	if closed.CloseReason != routing.ReasonAbandoned {
		t.Errorf("close reason %q, want ABANDONED", closed.CloseReason)
	}
	// The follower records the conversation's system events
	// (CHANNEL_SESSION_STARTED, ...) on its own time; what the close must
	// not write is a CUSTOMER_LEFT.
	es, err := c.Transcript(ctx, "waits")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		var ev conversation.CimEvent
		if json.Unmarshal(e.Data, &ev) == nil && ev.Name == conversation.CimCustomerLeft {
			t.Errorf("the abandoned conversation's transcript holds %s", e.Data)
		}
	}

	for _, cmd := range []routing.Command{
		routing.SetAgentState{Agent: "a1", State: routing.AgentReady},
		routing.CreateConversation{ID: "served", RequestID: "r2", Queue: "q"},
		routing.AcceptTask{Agent: "a1", Conversation: "served"},
	} {
		if _, err := n.Submit(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	abandoned, seq, ev, err := c.CustomerClosed(ctx, "served")
	if err != nil || abandoned || seq == 0 || len(ev) == 0 {
		t.Fatalf("served: abandoned %v, seq %d, event %s, err %v; want CUSTOMER_LEFT", abandoned, seq, ev, err)
	}
	if _, _, _, err := c.CustomerClosed(ctx, "served"); err == nil {
		t.Error("a second close was accepted")
	}
}
