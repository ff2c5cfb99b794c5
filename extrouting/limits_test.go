package extrouting

import (
	"fmt"
	"strings"
	"testing"
)

// otherPartnerToken is the second partner's (p2) bearer token.
const otherPartnerToken = "p2-token-0123456789abcdef"

// TestUnknownTopicRefused: only the configured PushTopic exists; a
// misspelt or other topic is refused naming the right one (issue 9 item
// 16), for every partner.
func TestUnknownTopicRefused(t *testing.T) {
	e := newEnv(t)
	e.start(true)
	handshake := func(token string) string {
		t.Helper()
		_, out := e.post("/cometd/60.0", token, map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}})
		rep := find(out, "/meta/handshake")
		if rep == nil || rep["successful"] != true {
			t.Fatalf("handshake: %v", out)
		}
		return rep["clientId"].(string)
	}
	sub := func(token, client, topic string) map[string]any {
		t.Helper()
		_, out := e.post("/cometd/60.0", token, map[string]any{"channel": "/meta/subscribe", "clientId": client, "subscription": "/topic/" + topic})
		return find(out, "/meta/subscribe")
	}
	for _, token := range []string{partnerToken, otherPartnerToken} {
		c := handshake(token)
		for _, topic := range []string{"PendingServiceRoutingTopc", "pendingserviceroutingtopic", "Junk0", "AnyName_1"} {
			rep := sub(token, c, topic)
			if rep["successful"] == true || !strings.HasPrefix(fmt.Sprint(rep["error"]), "403::") ||
				!strings.Contains(fmt.Sprint(rep["error"]), "/topic/"+DefaultTopic) {
				t.Fatalf("topic %s: %v", topic, rep)
			}
		}
		if rep := sub(token, c, DefaultTopic); rep["successful"] != true {
			t.Fatalf("the configured topic: %v", rep)
		}
	}
}
