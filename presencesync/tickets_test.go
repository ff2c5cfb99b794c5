package presencesync

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/config"
)

// TestTickets: the telephony websocket and the CRM connector take no
// token from the URL; a ticket opens each once, for its own use only.
func TestTickets(t *testing.T) {
	e := newEnv(t, testPartner(config.PresenceSynchronized))
	wsURL := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/presencesync/telephony"
	dialCode := func(query string) (int, string) {
		t.Helper()
		ws, resp, err := websocket.DefaultDialer.Dial(wsURL+query, nil)
		if err == nil {
			defer ws.Close()
			var init map[string]any
			if err := ws.ReadJSON(&init); err != nil || init["type"] != "init" {
				t.Fatalf("first message: %v %v", init, err)
			}
			return 101, ""
		}
		if resp == nil {
			t.Fatal(err)
		}
		var body struct{ Error ErrorDetail }
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error.Code
	}
	if code, _ := dialCode("?token=" + phoneToken); code != 401 {
		t.Fatalf("?token= on the websocket: %d", code)
	}
	// Only the partner mints its tickets.
	if code, _, _ := e.do("POST", "/presencesync/telephony/tickets", "", ""); code != 401 {
		t.Fatalf("mint without a token: %d", code)
	}
	if code, _, _ := e.do("POST", "/presencesync/telephony/tickets", e.auth.Issue("alice", time.Hour), ""); code != 401 {
		t.Fatalf("mint with an agent token: %d", code)
	}
	code, _, body := e.do("POST", "/presencesync/telephony/tickets", phoneToken, "")
	var tk struct {
		Ticket    string `json:"ticket"`
		ExpiresIn int    `json:"expiresIn"`
	}
	if code != 201 || json.Unmarshal([]byte(body), &tk) != nil || tk.Ticket == "" || tk.ExpiresIn != int(auth.DefaultTicketTTL.Seconds()) {
		t.Fatalf("mint: %d %s", code, body)
	}
	if code, _ := dialCode("?ticket=" + tk.Ticket); code != 101 {
		t.Fatalf("websocket with a ticket: %d", code)
	}
	if code, ec := dialCode("?ticket=" + tk.Ticket); code != 401 || ec != "TICKET_USED" {
		t.Fatalf("ticket reused: %d %s", code, ec)
	}
	if code, ec := dialCode("?ticket=bogus"); code != 401 || ec != "TICKET_INVALID" {
		t.Fatalf("bogus ticket: %d %s", code, ec)
	}

	// The CRM connector: a ticket of scope crm-connector redeems once to the
	// agent's token; a telephony ticket does not.
	alice := e.auth.Issue("alice", time.Hour)
	crmTk, _, err := e.auth.MintTicket(auth.ScopeCRMConnector, alice)
	if err != nil {
		t.Fatal(err)
	}
	telTk, _, _ := e.auth.MintTicket(auth.ScopeTelephony, phoneToken)
	session := func(ticket string) (int, map[string]any) {
		t.Helper()
		code, _, body := e.do("POST", "/presencesync/crm/session", "", `{"ticket":"`+ticket+`"}`)
		var m map[string]any
		json.Unmarshal([]byte(body), &m)
		return code, m
	}
	if code, m := session(telTk); code != 401 || m["error"].(map[string]any)["code"] != "TICKET_INVALID" {
		t.Fatalf("a telephony ticket on the connector: %d %v", code, m)
	}
	if code, m := session(crmTk); code != 200 || m["token"] != alice || m["agent"] != "alice" {
		t.Fatalf("session: %d %v", code, m)
	}
	if code, m := session(crmTk); code != 401 || m["error"].(map[string]any)["code"] != "TICKET_USED" {
		t.Fatalf("session reused: %d %v", code, m)
	}
	if code, _ := dialCode("?ticket=" + telTk); code != 101 { // not used up by the wrong scope
		t.Fatalf("telephony ticket after a wrong-scope try: %d", code)
	}
	// A token revoked after the ticket was minted is refused at redemption.
	crmTk, _, _ = e.auth.MintTicket(auth.ScopeCRMConnector, alice)
	if err := e.auth.Revoke("alice"); err != nil {
		t.Fatal(err)
	}
	if code, m := session(crmTk); code != 401 || m["error"].(map[string]any)["code"] != "UNAUTHORIZED" {
		t.Fatalf("revoked token: %d %v", code, m)
	}
}
