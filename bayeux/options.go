package bayeux

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/omniroute/omniroute/clock"
)

// Default limits, used for every zero field of Options. They follow the
// CometD server defaults where CometD has one (timeout 30 s, interval 0,
// maxInterval 10 s; CometD documentation, "Server Configuration") and are
// otherwise sized for a contact center: thousands of mobile customers
// waiting, each with a handful of channels and a short backlog.
const (
	DefaultConnectTimeout            = 30 * time.Second
	DefaultMaxInterval               = 10 * time.Second
	DefaultMaxMessageBytes           = 64 << 10
	DefaultMaxMessagesPerRequest     = 64
	DefaultMaxClients                = 10000
	DefaultMaxSubscriptionsPerClient = 64
	DefaultMaxQueuedMessages         = 1000
	// DefaultMaxClientsPerAddress bounds the live sessions of one client
	// address, so one machine cannot take every session of MaxClients.
	DefaultMaxClientsPerAddress = 64
	// DefaultUnconnectedTimeout removes a session that handshook but never
	// sent /meta/connect (a CometD client connects right after its
	// handshake; a flood of bare handshakes does not).
	DefaultUnconnectedTimeout = 5 * time.Second
)

// Options configures a Server. Every zero value means the default above;
// limits cannot be switched off, by design (DESIGN.md principle 6).
type Options struct {
	// Authorizer decides handshakes, subscriptions and client publishes.
	// nil allows every handshake and subscription and refuses every client
	// publish.
	Authorizer Authorizer
	// Replayer returns the backlog of a channel when a client subscribes
	// with a replay id (Salesforce's replay extension). nil ignores replay
	// ids and does not advertise ext.replay in the handshake reply.
	Replayer Replayer
	// Logger receives session and error logs. nil uses slog.Default().
	Logger *slog.Logger
	// OnSessionEnd, if set, is called once when a session ends (disconnect,
	// expiry, overflow, Close), after it has been removed. reason is a short
	// constant such as "disconnect", "expired", "queue overflow", "closed".
	OnSessionEnd func(c *Client, reason string)
	// OnSubscribe, if set, is called after a successful /meta/subscribe of
	// c has been registered (and any replay backlog queued), before the
	// subscribe reply is sent, with the channels of that message as the
	// client named them. It runs outside the server's locks on the
	// request's goroutine, so it may call Publish: a message published
	// with WithFilter selecting c is the first the new subscription
	// receives after its backlog (e.g. notifications kept while nobody was
	// subscribed). It is not called for a refused subscribe.
	OnSubscribe func(c *Client, channels []string)
	// CheckOrigin decides websocket upgrades from browsers (the Origin
	// header). nil accepts every origin: sessions are authorized through
	// headers and the handshake ext, never through cookies, so a foreign
	// page gains nothing from a cross-origin socket.
	CheckOrigin func(r *http.Request) bool

	// ConnectTimeout is how long a /meta/connect is held when nothing is
	// queued; it is sent to clients as advice.timeout (milliseconds). A
	// client's own smaller advice.timeout on the connect wins (CometD sends 0
	// on the first connect to get an immediate reply).
	ConnectTimeout time.Duration
	// Interval is advice.interval: how long a client waits after a connect
	// reply before the next connect. Zero is the CometD default.
	Interval time.Duration
	// MaxInterval is how long a session lives without a /meta/connect in
	// progress before it is removed (Bayeux 1.0 section 4.2.3 leaves the
	// value to the server). Also sent as advice.maxInterval.
	MaxInterval time.Duration
	// MaxMessageBytes bounds one HTTP request body and one websocket frame,
	// in bytes. A larger long-polling request gets HTTP 413 with a 400
	// Bayeux reply; a larger websocket frame closes the socket (the websocket
	// library cannot skip a frame).
	MaxMessageBytes int64
	// MaxMessagesPerRequest bounds the length of one message array.
	MaxMessagesPerRequest int
	// MaxClients bounds live sessions; a handshake beyond it is refused with
	// "503::Too many clients" and advice reconnect "handshake".
	MaxClients int
	// MaxClientsPerAddress bounds the live sessions of one client address
	// (the host of http.Request.RemoteAddr, which a trusted proxy's
	// X-Forwarded-For may have set); a handshake beyond it is refused with
	// "503::Too many clients from this address".
	MaxClientsPerAddress int
	// UnconnectedTimeout is how long a session may live without ever
	// sending /meta/connect.
	UnconnectedTimeout time.Duration
	// MaxSubscriptionsPerClient bounds each session's subscriptions.
	MaxSubscriptionsPerClient int
	// MaxQueuedMessages bounds each session's queue of undelivered (and,
	// with the ack extension, unacknowledged) messages. A session that
	// overflows is removed and logged at Warn level: a client that does not
	// read would otherwise hold memory without bound.
	MaxQueuedMessages int
	// Clock is the time source of the held connects' timeouts, the
	// sessions' MaxInterval and UnconnectedTimeout and their sweep. nil
	// is the wall clock (clock.Real); tests drive the expiries with a
	// clocktest.Clock.
	Clock clock.Clock
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Clock = clock.Or(o.Clock)
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Interval < 0 {
		o.Interval = 0
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = DefaultMaxInterval
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxMessagesPerRequest <= 0 {
		o.MaxMessagesPerRequest = DefaultMaxMessagesPerRequest
	}
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.MaxClientsPerAddress <= 0 {
		o.MaxClientsPerAddress = DefaultMaxClientsPerAddress
	}
	if o.UnconnectedTimeout <= 0 {
		o.UnconnectedTimeout = DefaultUnconnectedTimeout
	}
	if o.MaxSubscriptionsPerClient <= 0 {
		o.MaxSubscriptionsPerClient = DefaultMaxSubscriptionsPerClient
	}
	if o.MaxQueuedMessages <= 0 {
		o.MaxQueuedMessages = DefaultMaxQueuedMessages
	}
	return o
}

// Error is a refusal with a Bayeux error code, sent to the client as
// "<Code>::<Message>" (Bayeux 1.0 section 5.13 "error": code:args:message,
// args left empty). Hooks return it to choose the code; any other error is
// sent as 403 (hooks) or 500 (Replayer) with the error's text.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d::%s", e.Code, e.Message) }

// Authorizer is the adapter's say on who may talk to the server. Each method
// returns nil to allow or an error to refuse; the error text goes to the
// client, so it must not leak secrets. Methods may be called from many
// goroutines at once.
type Authorizer interface {
	// Handshake sees the HTTP request that carried the handshake (for
	// websocket, the upgrade request: headers such as Genesys "gms_user" or
	// "Authorization: Bearer ...") and the handshake message with its ext.
	// It returns the identity to attach to the session (Client.Identity),
	// or an error. A refusal gets advice reconnect "none", as CometD does,
	// so clients do not loop on bad credentials.
	Handshake(r *http.Request, m *Message) (identity any, err error)
	// Subscribe decides one channel (possibly a wildcard pattern) for c.
	Subscribe(c *Client, channel string) error
	// Publish decides a message a client publishes to a non-meta channel.
	// When allowed, the server delivers it to the channel's subscribers,
	// except on /service/ channels (Bayeux 1.0 section 2.2.3), where the
	// hook is the only receiver.
	Publish(c *Client, m *Message) error
}

// Expiring is an identity (what Authorizer.Handshake returned) whose
// credentials end, such as an OpenID token's exp. Once Expiry has passed
// the server ends the session at its next sweep (within a second; reason
// "credentials expired", OnSessionEnd called): a held connect is answered,
// and the client's next message gets 402::Unknown client with advice
// handshake, so it hands fresh credentials to a new handshake. A zero
// Expiry never ends.
type Expiring interface {
	Expiry() time.Time
}

// AuthorizerFuncs adapts functions to Authorizer. A nil Handshake or
// Subscribe allows; a nil Publish refuses, because publishing from clients
// is off unless an adapter asks for it.
type AuthorizerFuncs struct {
	HandshakeFunc func(r *http.Request, m *Message) (any, error)
	SubscribeFunc func(c *Client, channel string) error
	PublishFunc   func(c *Client, m *Message) error
}

// Handshake implements Authorizer.
func (f AuthorizerFuncs) Handshake(r *http.Request, m *Message) (any, error) {
	if f.HandshakeFunc == nil {
		return nil, nil
	}
	return f.HandshakeFunc(r, m)
}

// Subscribe implements Authorizer.
func (f AuthorizerFuncs) Subscribe(c *Client, channel string) error {
	if f.SubscribeFunc == nil {
		return nil
	}
	return f.SubscribeFunc(c, channel)
}

// Publish implements Authorizer.
func (f AuthorizerFuncs) Publish(c *Client, m *Message) error {
	if f.PublishFunc == nil {
		return &Error{Code: 403, Message: "Publish denied"}
	}
	return f.PublishFunc(c, m)
}

// Replay ids with a fixed meaning in Salesforce's replay extension
// (Salesforce Streaming API Developer Guide, "Message Durability").
const (
	ReplayNewOnly     int64 = -1 // only messages published after subscribing
	ReplayAllRetained int64 = -2 // every retained message, then new ones
)

// Replayer supplies the backlog for a subscription that names a replay id.
//
// The client gives the id in ext.replay, a map from channel to replay id,
// on /meta/subscribe (Salesforce's cometdReplayExtension, EMP-Connector) or
// already on /meta/handshake (jsforce); the subscribe map wins. The server
// calls Replay once per subscribed channel that has an id, outside its locks,
// and queues the returned deliveries before any message published to that
// channel from the moment the subscription was registered. Live messages
// published meanwhile whose Seq (WithSeq) is at most the highest Seq in the
// backlog are dropped, so an adapter that numbers its messages gets neither
// gaps nor duplicates. Putting the replay id into the payload (Salesforce:
// data.event.replayId) is the adapter's job.
//
// An error refuses the subscription; an *Error chooses the code (Salesforce
// uses 400 for an invalid replay id), other errors become 500.
type Replayer interface {
	Replay(c *Client, channel string, replayID int64) ([]Delivery, error)
}

// ReplayerFunc adapts a function to Replayer.
type ReplayerFunc func(c *Client, channel string, replayID int64) ([]Delivery, error)

// Replay implements Replayer.
func (f ReplayerFunc) Replay(c *Client, channel string, replayID int64) ([]Delivery, error) {
	return f(c, channel, replayID)
}

// Delivery is one message the server sends to clients: what Publish
// builds from its arguments and what a Replayer returns.
// On the wire it is {"channel","data","id"?,"ext"?} (Bayeux 1.0 section 5).
type Delivery struct {
	// Channel is the concrete channel (no wildcard, not /meta/).
	Channel string
	// Data is the JSON payload; nil is sent as null.
	Data json.RawMessage
	// ID is the optional message id.
	ID string
	// Ext is an optional JSON object sent as "ext".
	Ext json.RawMessage
	// Seq is an optional ordering number used only to drop live duplicates
	// of a replayed backlog (see Replayer); it is not sent. 0 means none.
	Seq int64

	// filter, set by WithFilter, selects the recipients of a Publish.
	filter func(*Client) bool
}

// PublishOption adds optional fields to a published message.
type PublishOption func(*Delivery)

// WithID sets the message "id".
func WithID(id string) PublishOption { return func(d *Delivery) { d.ID = id } }

// WithExt sets the message "ext" (a JSON object).
func WithExt(ext json.RawMessage) PublishOption { return func(d *Delivery) { d.Ext = ext } }

// WithSeq sets the message's ordering number (see Replayer).
func WithSeq(seq int64) PublishOption { return func(d *Delivery) { d.Seq = seq } }

// WithFilter restricts a Publish to the subscribers of the channel for
// which match returns true; the others get nothing (not even in a replay
// buffer) and are not counted in Publish's result. Everything else is
// unchanged: a matching session still gets the message once, buffered
// behind a replay in progress, de-duplicated by WithSeq and acknowledged
// with the ack extension like any other message.
//
// match is called once per candidate subscriber, on the publishing
// goroutine, while the server holds its subscription index for reading:
// it must be fast and must not call the Server's methods. Client.ID and
// Client.Identity are safe to use (e.g. deliver to one user's sessions:
// `func(c *Client) bool { return c.Identity() == user }`). A nil match
// means no filter. Replayer deliveries ignore it.
func WithFilter(match func(*Client) bool) PublishOption {
	return func(d *Delivery) { d.filter = match }
}
