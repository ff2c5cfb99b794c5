package config

import (
	"strings"
	"testing"
)

const presenceBase = `reasonCodes:
  - {id: break, name: Break, type: NOT_READY}
  - {id: digital, name: Digital Not Ready, type: NOT_READY}
presenceSync:
  statuses:
    - {statusId: avail, statusName: Available, hasChannels: true}
    - {statusId: away, statusName: Away}
  partners:
`

func TestPresenceSync(t *testing.T) {
	ok := presenceBase + `    - {id: phone, kind: telephony, token: phone-partner-token-0123, mapping: [{statusId: avail, agentState: READY}, {statusId: away, agentState: NOT_READY, reasonCode: break}]}
    - {id: crm, kind: crm, origins: ["http://localhost:8080"], mode: complementary, complementaryReasonCode: digital, complementaryStatusId: away}
`
	c, err := Parse([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if cat := c.PresenceSync.Catalog(); cat[0].StatusID != "0" || !cat[0].IsOffline {
		t.Fatalf("%+v", cat)
	}
	for _, bad := range []string{
		`    - {id: p, kind: fax, token: phone-partner-token-0123}`,
		`    - {id: p, kind: telephony, token: short}`,
		`    - {id: p, kind: crm, origins: ["http://x/path"]}`,
		`    - {id: p, kind: crm, origins: ["http://x"], mode: complementary}`,
		`    - {id: p, kind: crm, origins: ["http://x"], mapping: [{statusId: nope, agentState: READY}]}`,
		`    - {id: p, kind: crm, origins: ["http://x"], mapping: [{statusId: away, agentState: READY}]}`,
		`    - {id: p, kind: crm, origins: ["http://x"], mapping: [{statusId: away, agentState: NOT_READY, reasonCode: lunch}]}`,
	} {
		if _, err := Parse([]byte(presenceBase + bad + "\n")); err == nil || !strings.Contains(err.Error(), "presenceSync.partners[0]") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := Parse([]byte("presenceSync:\n  statuses: [{statusId: '0', statusName: Off}]\n")); err == nil {
		t.Error("0 without isOffline accepted")
	}
}
