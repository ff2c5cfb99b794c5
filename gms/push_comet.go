package gms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/omniroute/omniroute/bayeux"
	"github.com/omniroute/omniroute/clock"
)

// CometPush: the "comet" device OS of GMS (seed 003, "Chat Delayed").
//
// The mobile application learns the CometD endpoint from the dialog reply's
// "_comet_url" (e.g. http://host:8080/genesys/cometd) and "_user_header";
// it handshakes with the "gms_user" header and subscribes to channel
// "/_genesys". A notification reaches it as the data of a Bayeux message on
// that channel, in the seed's "Push Notification Data" shape:
//
//	{"channel":"/_genesys","data":{"id":"01afcd60...","message":{"_action":
//	 "get-dialog-user-confirmation-provide_code-false","_id":"369-..."},
//	 "tag":"service.agentavailable.369-..."}}
//
// The device id of a comet subscription ("_device_notification_id") is the
// gms_user value itself (seed 003 sets both to the same hash), so Push's
// deviceID selects the sessions whose gms_user equals it.

// DeviceOSComet is the "_device_os" value served by CometPusher.
const DeviceOSComet = "comet"

// Defaults of CometOptions, used for every zero field.
const (
	DefaultCometPendingTTL        = 60 * time.Second
	DefaultCometMaxPendingPerUser = 16
	DefaultCometMaxPendingUsers   = 10000
	DefaultCometMaxSessionsPerUsr = 8
)

// ErrPushPending is returned (wrapped) by CometPusher.Push when no client of
// the gms_user is subscribed: the notification is kept for
// CometOptions.PendingTTL and delivered to the first client of that user
// that subscribes to /_genesys within that time. It was not delivered now,
// so the caller should keep it for retrieve-notifications (the seed's poll
// fallback) as for any failed push. Test with errors.Is.
var ErrPushPending = errors.New("no client subscribed for this gms_user, notification kept pending")

// ErrUnsupportedDeviceOS is returned by a Pusher asked for a device OS it
// does not serve.
var ErrUnsupportedDeviceOS = errors.New("unsupported device OS")

// CometOptions configures a CometPusher. Zero fields take the defaults.
type CometOptions struct {
	// Bayeux configures the pusher's Bayeux server (timeouts, sizes,
	// MaxClients: all sessions of all users, Logger, CheckOrigin). Its
	// Authorizer, Replayer, OnSessionEnd and OnSubscribe are set by the
	// pusher.
	Bayeux bayeux.Options
	// PendingTTL is how long a notification pushed while no client of its
	// user was subscribed is kept for a client that subscribes later.
	PendingTTL time.Duration
	// Clock says when kept notifications expire, and times the Bayeux
	// server too unless Bayeux.Clock is set (default clock.Real).
	Clock clock.Clock
	// MaxPendingPerUser bounds the kept notifications of one user; the
	// oldest is dropped first.
	MaxPendingPerUser int
	// MaxPendingUsers bounds the users with kept notifications; beyond it
	// Push keeps nothing (and still returns ErrPushPending).
	MaxPendingUsers int
	// MaxSessionsPerUser bounds the live Bayeux sessions of one gms_user (a
	// handshake beyond gets "503::Too many sessions for this gms_user").
	MaxSessionsPerUser int
	// Logger receives the pusher's logs; nil uses Bayeux.Logger, then
	// slog.Default().
	Logger *slog.Logger
}

func (o CometOptions) withDefaults() CometOptions {
	o.Clock = clock.Or(o.Clock)
	if o.PendingTTL <= 0 {
		o.PendingTTL = DefaultCometPendingTTL
	}
	if o.MaxPendingPerUser <= 0 {
		o.MaxPendingPerUser = DefaultCometMaxPendingPerUser
	}
	if o.MaxPendingUsers <= 0 {
		o.MaxPendingUsers = DefaultCometMaxPendingUsers
	}
	if o.MaxSessionsPerUser <= 0 {
		o.MaxSessionsPerUser = DefaultCometMaxSessionsPerUsr
	}
	if o.Bayeux.MaxClients <= 0 {
		o.Bayeux.MaxClients = bayeux.DefaultMaxClients
	}
	if o.Logger == nil {
		o.Logger = o.Bayeux.Logger
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// CometPusher is the Pusher for device OS "comet": a CometD (Bayeux 1.0)
// endpoint, mounted by the GMS server at the "_comet_url" path, that
// delivers each notification only to the sessions of its gms_user.
//
// # Identity
//
//   - long-polling: the gms_user HTTP header of every request (the CometD
//     client's requestHeaders, Faye's setHeader). A long-polling handshake
//     without the header that names ext.gms_user is refused with
//     "401::gms_user header required on long-polling".
//   - websocket: the gms_user header of the upgrade request (Faye, native
//     clients), or, when the upgrade has none (the CometD JavaScript client
//     cannot set headers on a websocket), the handshake's ext.gms_user, a
//     JSON string; a header-less socket is bound to the first gms_user its
//     handshakes name (another one gets 401). When header and ext are both
//     present they must be equal (else 401).
//   - A session without gms_user may handshake, but its subscribe is
//     refused with "401::gms_user required".
//
// Only CometChannel can be subscribed ("403::..." otherwise) and clients
// cannot publish ("403::Publish denied", bayeux's default).
//
// # Implementation
//
// Every device subscribes to the same "/_genesys", on one bayeux.Server
// whose sessions carry their gms_user as Client.Identity; Push publishes
// with bayeux.WithFilter selecting the sessions of the user. No goroutine
// or server per user: the pusher's only goroutine is bayeux's sweeper.
// Bayeux.MaxClients bounds all sessions, MaxSessionsPerUser each user's.
//
// # Kept notifications
//
// A Push that reaches no session keeps the notification (at most
// MaxPendingPerUser per user, MaxPendingUsers users, each for PendingTTL)
// and returns ErrPushPending; the first session of that user to subscribe
// to /_genesys within PendingTTL receives the kept notifications in push
// order, queued before its subscribe reply (so before any later push).
type CometPusher struct {
	opts CometOptions
	log  *slog.Logger
	srv  *bayeux.Server

	// pushMu orders a Push's publish-then-keep against a subscribe's
	// take-then-deliver, so a notification is never kept while a
	// subscriber that could have had it goes without. It is never held
	// by bayeux callbacks (OnSessionEnd may run inside a Publish).
	pushMu sync.Mutex

	mu       sync.Mutex
	sessions map[string]int // gms_user -> live sessions (handshakes accepted)
	total    int            // all live sessions, anonymous included
	pending  map[string][]pendingNote
	closed   bool
}

type pendingNote struct {
	data    json.RawMessage
	expires time.Time
}

// wsBinding is the gms_user a header-less websocket is bound to; the
// pusher puts it in the upgrade request's context.
type wsBinding struct {
	mu   sync.Mutex
	user string
}

type wsBindingKey struct{}

// NewCometPusher returns a running CometPusher; call Close to stop it.
func NewCometPusher(opts CometOptions) *CometPusher {
	opts = opts.withDefaults()
	p := &CometPusher{
		opts:     opts,
		log:      opts.Logger,
		sessions: make(map[string]int),
		pending:  make(map[string][]pendingNote),
	}
	o := opts.Bayeux
	o.Replayer = nil
	o.Authorizer = bayeux.AuthorizerFuncs{HandshakeFunc: p.handshake, SubscribeFunc: p.allowSubscribe}
	o.OnSessionEnd = p.sessionEnded
	o.OnSubscribe = p.subscribed
	if o.Clock == nil {
		o.Clock = opts.Clock
	}
	p.srv = bayeux.NewServer(o)
	return p
}

var errNoUser = &bayeux.Error{Code: 401, Message: "gms_user required"}

// extUser returns the handshake's ext.gms_user; ok is false when the field
// is present but not a JSON string of at most MaxUserHeaderBytes.
func extUser(m *bayeux.Message) (string, bool) {
	raw, found := m.Ext[UserHeader]
	if !found {
		return "", true
	}
	var u string
	if json.Unmarshal(raw, &u) != nil || len(u) > MaxUserHeaderBytes {
		return "", false
	}
	return u, true
}

// handshake is the Authorizer's Handshake: it finds the session's gms_user
// (see CometPusher) and counts the session.
func (p *CometPusher) handshake(r *http.Request, m *bayeux.Message) (any, error) {
	u, ok := extUser(m)
	if !ok {
		return nil, &bayeux.Error{Code: 400, Message: "ext.gms_user must be a string of at most 256 bytes"}
	}
	user := r.Header.Get(UserHeader)
	bind, _ := r.Context().Value(wsBindingKey{}).(*wsBinding)
	switch {
	case user != "":
		if u != "" && u != user {
			return nil, &bayeux.Error{Code: 401, Message: "ext.gms_user does not match the gms_user header"}
		}
	case bind != nil: // header-less websocket
		if u != "" {
			bind.mu.Lock()
			if bind.user != "" && bind.user != u {
				bind.mu.Unlock()
				return nil, &bayeux.Error{Code: 401, Message: "gms_user differs from this connection's"}
			}
			bind.user = u
			bind.mu.Unlock()
		}
		user = u
	case u != "":
		return nil, &bayeux.Error{Code: 401, Message: "gms_user header required on long-polling"}
	}
	// The pusher's count includes sessions still being registered, so it
	// refuses at Bayeux.MaxClients before bayeux would (a session bayeux
	// refused after this hook would never reach OnSessionEnd).
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, &bayeux.Error{Code: 503, Message: "Server closing"}
	case p.total >= p.opts.Bayeux.MaxClients:
		p.log.Warn("gms comet: handshake refused: too many sessions", "limit", p.opts.Bayeux.MaxClients)
		return nil, &bayeux.Error{Code: 503, Message: "Too many clients"}
	case user != "" && p.sessions[user] >= p.opts.MaxSessionsPerUser:
		return nil, &bayeux.Error{Code: 503, Message: "Too many sessions for this gms_user"}
	}
	p.total++
	if user != "" {
		p.sessions[user]++
	}
	return user, nil
}

// sessionEnded is bayeux's OnSessionEnd: it uncounts the session.
func (p *CometPusher) sessionEnded(c *bayeux.Client, _ string) {
	user, _ := c.Identity().(string)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total--
	if user == "" {
		return
	}
	if p.sessions[user] <= 1 {
		delete(p.sessions, user)
	} else {
		p.sessions[user]--
	}
}

// allowSubscribe is the Authorizer's Subscribe: only CometChannel, only
// with a gms_user.
func (p *CometPusher) allowSubscribe(c *bayeux.Client, ch string) error {
	if user, _ := c.Identity().(string); user == "" {
		return errNoUser
	}
	if ch != CometChannel {
		return &bayeux.Error{Code: 403, Message: "only " + CometChannel + " can be subscribed"}
	}
	return nil
}

// subscribed is bayeux's OnSubscribe: the new subscriber of /_genesys gets
// its user's kept notifications, in push order.
func (p *CometPusher) subscribed(c *bayeux.Client, channels []string) {
	user, _ := c.Identity().(string)
	if user == "" || !slices.Contains(channels, CometChannel) {
		return
	}
	p.pushMu.Lock()
	defer p.pushMu.Unlock()
	notes := p.takePending(user)
	for i, n := range notes {
		k, err := p.srv.Publish(CometChannel, n, bayeux.WithFilter(func(x *bayeux.Client) bool { return x == c }))
		if err != nil {
			p.log.Warn("gms comet: kept notification not published", "err", err)
			continue
		}
		if k == 0 { // the session ended meanwhile: keep the rest for the next one
			for _, rest := range notes[i:] {
				p.keep(user, rest)
			}
			return
		}
	}
}

// Handler returns the HTTP handler of the CometD endpoint. Mount it at the
// "_comet_url" path and below (e.g. "/genesys/cometd" and
// "/genesys/cometd/"): the CometD client appends "/handshake", "/connect",
// ... to long-polling URLs. Websocket upgrades and long-polling POSTs share
// the path (see bayeux.Server.Handler). When the pusher is closed it
// answers HTTP 503.
func (p *CometPusher) Handler() http.Handler { return http.HandlerFunc(p.serveHTTP) }

func (p *CometPusher) serveHTTP(w http.ResponseWriter, r *http.Request) {
	user := r.Header.Get(UserHeader)
	if len(user) > MaxUserHeaderBytes {
		http.Error(w, "gms_user too long", http.StatusBadRequest)
		return
	}
	if user == "" && websocket.IsWebSocketUpgrade(r) {
		r = r.WithContext(context.WithValue(r.Context(), wsBindingKey{}, &wsBinding{}))
	}
	p.srv.Handler().ServeHTTP(w, r)
}

// Push implements Pusher for deviceOS "comet": it publishes n as JSON on
// /_genesys to every session whose gms_user equals deviceID. It returns
// nil when at least one session got it queued, an error wrapping
// ErrPushPending when none is subscribed (n is kept, see CometPusher),
// ErrUnsupportedDeviceOS for another OS, and an error for an empty
// deviceID, a closed pusher or a notification that cannot be encoded.
// It never blocks on the network; ctx is checked only on entry.
func (p *CometPusher) Push(ctx context.Context, deviceOS, deviceID string, n Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deviceOS != DeviceOSComet {
		return fmt.Errorf("gms comet push: %w: %q", ErrUnsupportedDeviceOS, deviceOS)
	}
	if deviceID == "" {
		return errors.New("gms comet push: empty device id (gms_user)")
	}
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("gms comet push: encode notification: %w", err)
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return errors.New("gms comet push: pusher closed")
	}
	p.pushMu.Lock()
	defer p.pushMu.Unlock()
	k, err := p.srv.Publish(CometChannel, data, bayeux.WithFilter(func(c *bayeux.Client) bool { return c.Identity() == deviceID }))
	if err != nil {
		return fmt.Errorf("gms comet push: %w", err)
	}
	if k > 0 {
		return nil
	}
	p.keep(deviceID, data)
	return fmt.Errorf("gms comet push to device %s: %w", deviceRef(deviceID), ErrPushPending)
}

// keep adds a notification to user's kept ones. Expired ones are dropped
// here (no goroutine sweeps them): the user's own on every keep, everyone's
// when the MaxPendingUsers bound is reached.
func (p *CometPusher) keep(user string, data json.RawMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.opts.Clock.Now()
	list, ok := p.pending[user]
	if !ok && len(p.pending) >= p.opts.MaxPendingUsers {
		for u, l := range p.pending {
			if l = unexpired(l, now); len(l) == 0 {
				delete(p.pending, u)
			} else {
				p.pending[u] = l
			}
		}
		if len(p.pending) >= p.opts.MaxPendingUsers {
			p.log.Warn("gms comet: pending users limit reached, notification not kept", "limit", p.opts.MaxPendingUsers)
			return
		}
	}
	list = append(unexpired(list, now), pendingNote{data: data, expires: now.Add(p.opts.PendingTTL)})
	if len(list) > p.opts.MaxPendingPerUser {
		list = list[len(list)-p.opts.MaxPendingPerUser:]
	}
	p.pending[user] = list
}

// unexpired drops the leading expired notes (all expire in push order).
func unexpired(list []pendingNote, now time.Time) []pendingNote {
	for len(list) > 0 && !now.Before(list[0].expires) {
		list = list[1:]
	}
	return list
}

// takePending removes and returns the unexpired kept notifications of user.
func (p *CometPusher) takePending(user string) []json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := unexpired(p.pending[user], p.opts.Clock.Now())
	delete(p.pending, user)
	out := make([]json.RawMessage, 0, len(list))
	for _, n := range list {
		out = append(out, n.data)
	}
	return out
}

// Connected returns the number of live Bayeux sessions of user (subscribed
// or not).
func (p *CometPusher) Connected(user string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions[user]
}

// Close ends every session and stops the pusher; Push then fails. It is
// safe to call more than once.
func (p *CometPusher) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.srv.Close()
}
