package extrouting

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"time"
)

// Salesforce id key prefixes used here.
const (
	PrefixAgentWork        = "0Bz"
	PrefixPSR              = "0JR"
	PrefixLiveAgentSession = "0Lx"
)

// AgentWork status values (PROTOCOLS.md: Assigned(0) Unavailable(1)
// Declined(2) Opened(3) Closed(4) DeclinedOnPushTimeout(5) Canceled(6)
// Transferred(7)).
const (
	StatusAssigned              = "Assigned"
	StatusUnavailable           = "Unavailable"
	StatusDeclined              = "Declined"
	StatusOpened                = "Opened"
	StatusClosed                = "Closed"
	StatusDeclinedOnPushTimeout = "DeclinedOnPushTimeout"
	StatusCanceled              = "Canceled"
	StatusTransferred           = "Transferred"
)

// RoutingModelExternal is PendingServiceRouting.RoutingModel for every
// record here (the PushTopic query filters on it).
const RoutingModelExternal = "ExternalRouting"

// sfTimeLayout is Salesforce's REST datetime format.
const sfTimeLayout = "2006-01-02T15:04:05.000-0700"

// eventTimeLayout is the Streaming API's event.createdDate format.
const eventTimeLayout = "2006-01-02T15:04:05.000Z"

// SFTime is a datetime in Salesforce's REST format
// ("2024-05-01T10:00:00.000+0000"), null when zero.
type SFTime time.Time

// MarshalJSON implements json.Marshaler.
func (t SFTime) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(time.Time(t).UTC().Format(sfTimeLayout))
}

// NullString is a string that encodes as null when empty.
type NullString string

// MarshalJSON implements json.Marshaler.
func (s NullString) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(s))
}

// PendingServiceRouting is a request waiting in an external queue, with
// Salesforce's field names. WorkItemId is the conversation id,
// ServiceChannelId the MRD id, QueueId the queue id, PushTimeout seconds.
type PendingServiceRouting struct {
	ID                       string     `json:"Id"`
	WorkItemID               string     `json:"WorkItemId"`
	QueueID                  string     `json:"QueueId"`
	ServiceChannelID         string     `json:"ServiceChannelId"`
	IsPushed                 bool       `json:"IsPushed"`
	IsPushAttempted          bool       `json:"IsPushAttempted"`
	IsTransfer               bool       `json:"IsTransfer"`
	LastDeclinedAgentSession NullString `json:"LastDeclinedAgentSession"`
	RoutingModel             string     `json:"RoutingModel"`
	RoutingType              string     `json:"RoutingType"`
	RoutingPriority          int        `json:"RoutingPriority"`
	CapacityWeight           float64    `json:"CapacityWeight"`
	CapacityPercentage       *float64   `json:"CapacityPercentage"`
	IsReadyForRouting        bool       `json:"IsReadyForRouting"`
	PushTimeout              int        `json:"PushTimeout"`
	PreferredUserID          NullString `json:"PreferredUserId"`
	CreatedDate              SFTime     `json:"CreatedDate"`
	// Serial is the journal sequence of the command that queued the
	// request (0 for a record rebuilt from the state at start).
	Serial int64 `json:"Serial"`

	request string
}

// AgentWork is a partner's assignment of a PSR to an agent (UserId is the
// agent id). Status is one of the Status constants.
type AgentWork struct {
	ID                      string     `json:"Id"`
	UserID                  string     `json:"UserId"`
	WorkItemID              string     `json:"WorkItemId"`
	PendingServiceRoutingID string     `json:"PendingServiceRoutingId"`
	ServiceChannelID        string     `json:"ServiceChannelId"`
	Status                  string     `json:"Status"`
	RequestDateTime         SFTime     `json:"RequestDateTime"`
	AcceptDateTime          SFTime     `json:"AcceptDateTime"`
	DeclineDateTime         SFTime     `json:"DeclineDateTime"`
	CloseDateTime           SFTime     `json:"CloseDateTime"`
	DeclineReason           NullString `json:"DeclineReason"`
}

// streamSObject is the PushTopic query's projection of a PSR (PROTOCOLS.md)
// plus IsTransfer.
type streamSObject struct {
	ID                       string     `json:"Id"`
	Serial                   int64      `json:"Serial"`
	QueueID                  string     `json:"QueueId"`
	WorkItemID               string     `json:"WorkItemId"`
	IsPushed                 bool       `json:"IsPushed"`
	ServiceChannelID         string     `json:"ServiceChannelId"`
	LastDeclinedAgentSession NullString `json:"LastDeclinedAgentSession"`
	CreatedDate              SFTime     `json:"CreatedDate"`
	IsTransfer               bool       `json:"IsTransfer"`
}

func (p *PendingServiceRouting) projection() streamSObject {
	return streamSObject{ID: p.ID, Serial: p.Serial, QueueID: p.QueueID, WorkItemID: p.WorkItemID,
		IsPushed: p.IsPushed, ServiceChannelID: p.ServiceChannelID,
		LastDeclinedAgentSession: p.LastDeclinedAgentSession, CreatedDate: p.CreatedDate, IsTransfer: p.IsTransfer}
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// sfID returns prefix + body (12 characters) + the 3-character checksum
// of Salesforce's 15-to-18 conversion: for each 5-character block, a bit
// per upper-case letter, mapped onto "A".."Z","0".."5".
func sfID(prefix string, seed [16]byte) string {
	b := make([]byte, 0, 18)
	b = append(b, prefix...)
	x, y := binary.BigEndian.Uint64(seed[:8]), binary.BigEndian.Uint64(seed[8:])
	for i := 0; len(b) < 15; i++ {
		if i < 6 {
			b = append(b, base62[x%62])
			x /= 62
		} else {
			b = append(b, base62[y%62])
			y /= 62
		}
	}
	const sum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	for blk := range 3 {
		bits := 0
		for i := range 5 {
			c := b[blk*5+i]
			if c >= 'A' && c <= 'Z' {
				bits |= 1 << i
			}
		}
		b = append(b, sum[bits])
	}
	return string(b)
}

func hashSeed(parts ...string) [16]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var s [16]byte
	copy(s[:], h.Sum(nil))
	return s
}

// NewAgentWorkID returns a random AgentWork id ("0Bz...", 18 characters).
func NewAgentWorkID() string {
	var s [16]byte
	_, _ = rand.Read(s[:])
	return sfID(PrefixAgentWork, s)
}

// PSRID is the PendingServiceRouting id of a request (stable).
func PSRID(request string) string { return sfID(PrefixPSR, hashSeed("psr", request)) }

// SessionID is the agent desk session id of one login of agent, derived
// from the login time (routing.AgentStatus.LoginAt).
func SessionID(agent string, login time.Time) string {
	return sfID(PrefixLiveAgentSession, hashSeed("session", agent, login.UTC().Format(time.RFC3339Nano)))
}

// checksumOf returns the 3-character suffix of a 15-character id.
func checksumOf(id15 string) string {
	const sum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	out := make([]byte, 0, 3)
	for blk := range 3 {
		bits := 0
		for i := range 5 {
			if c := id15[blk*5+i]; c >= 'A' && c <= 'Z' {
				bits |= 1 << i
			}
		}
		out = append(out, sum[bits])
	}
	return string(out)
}
