package gms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/omniroute/omniroute/bayeux"
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
	DefaultCometMaxEndpoints      = 20000
	DefaultCometMaxSessionsPerUsr = 8
	DefaultCometIdleTTL           = time.Minute
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
	// Bayeux is the template of every Bayeux server the pusher runs
	// (timeouts, sizes, Logger, CheckOrigin). Its Authorizer, Replayer,
	// OnSessionEnd and MaxClients are set by the pusher.
	Bayeux bayeux.Options
	// PendingTTL is how long a notification pushed while no client of its
	// user was subscribed is kept for a client that subscribes later.
	PendingTTL time.Duration
	// MaxPendingPerUser bounds the kept notifications of one user; the
	// oldest is dropped first.
	MaxPendingPerUser int
	// MaxPendingUsers bounds the users with kept notifications; beyond it
	// Push keeps nothing (and still returns ErrPushPending).
	MaxPendingUsers int
	// MaxEndpoints bounds the live Bayeux servers (one per gms_user seen in
	// a header, one per header-less websocket); a request that would need
	// one more gets HTTP 503.
	MaxEndpoints int
	// MaxSessionsPerUser bounds the Bayeux sessions of one gms_user on its
	// header endpoint (a handshake beyond gets "503::Too many clients").
	MaxSessionsPerUser int
	// IdleTTL is how long a user's endpoint without sessions is kept
	// before it is closed.
	IdleTTL time.Duration
	// Logger receives the pusher's logs; nil uses Bayeux.Logger, then
	// slog.Default().
	Logger *slog.Logger
}

func (o CometOptions) withDefaults() CometOptions {
	if o.PendingTTL <= 0 {
		o.PendingTTL = DefaultCometPendingTTL
	}
	if o.MaxPendingPerUser <= 0 {
		o.MaxPendingPerUser = DefaultCometMaxPendingPerUser
	}
	if o.MaxPendingUsers <= 0 {
		o.MaxPendingUsers = DefaultCometMaxPendingUsers
	}
	if o.MaxEndpoints <= 0 {
		o.MaxEndpoints = DefaultCometMaxEndpoints
	}
	if o.MaxSessionsPerUser <= 0 {
		o.MaxSessionsPerUser = DefaultCometMaxSessionsPerUsr
	}
	if o.IdleTTL <= 0 {
		o.IdleTTL = DefaultCometIdleTTL
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
//     "401::gms_user header required on long-polling" (the routing of the
//     later requests needs the header).
//   - websocket: the gms_user header of the upgrade request (Faye, native
//     clients), or, when the upgrade has none (the CometD JavaScript client
//     cannot set headers on a websocket), the handshake's ext.gms_user, a
//     JSON string. When both are present they must be equal (else 401).
//   - A session without gms_user may handshake, but its subscribe is
//     refused with "401::gms_user required".
//
// Only CometChannel can be subscribed ("403::..." otherwise) and clients
// cannot publish ("403::Publish denied", bayeux's default).
//
// # Implementation
//
// bayeux.Server.Publish reaches every subscriber of a channel, and every
// user subscribes to the same "/_genesys", so the pusher runs one
// bayeux.Server per endpoint and routes HTTP requests to it: one per
// gms_user seen in a header (closed after IdleTTL without sessions), one
// per header-less websocket connection (closed with the connection, bound
// to the first gms_user of its handshakes), and one shared server for
// header-less long-polling (whose sessions can never subscribe). Push
// publishes on every endpoint of the user. Each endpoint costs one
// sweeper goroutine of bayeux; MaxEndpoints bounds them.
//
// # Kept notifications
//
// A Push that reaches no session keeps the notification (at most
// MaxPendingPerUser per user, MaxPendingUsers users, each for PendingTTL)
// and returns ErrPushPending; the first session of that user to subscribe
// to /_genesys within PendingTTL receives the kept notifications in push
// order, right after its subscribe reply. A kept notification and a live
// one pushed during that subscribe may arrive in either order.
type CometPusher struct {
	opts CometOptions
	log  *slog.Logger
	anon *bayeux.Server // header-less long-polling

	mu        sync.Mutex
	users     map[string]*userEndpoint           // gms_user header -> endpoint
	conns     map[string]map[*bayeux.Server]bool // gms_user -> header-less websocket servers
	wsAll     map[*bayeux.Server]bool            // every header-less websocket server
	endpoints int                                // users + websocket servers
	pending   map[string][]pendingNote
	closed    bool

	stop chan struct{}
	wg   sync.WaitGroup
}

type userEndpoint struct {
	srv      *bayeux.Server
	lastUsed time.Time
}

type pendingNote struct {
	data    json.RawMessage
	expires time.Time
}

// NewCometPusher returns a running CometPusher; call Close to stop it.
func NewCometPusher(opts CometOptions) *CometPusher {
	opts = opts.withDefaults()
	p := &CometPusher{
		opts:    opts,
		log:     opts.Logger,
		users:   make(map[string]*userEndpoint),
		conns:   make(map[string]map[*bayeux.Server]bool),
		wsAll:   make(map[*bayeux.Server]bool),
		pending: make(map[string][]pendingNote),
		stop:    make(chan struct{}),
	}
	anon := opts.Bayeux
	anon.Authorizer = bayeux.AuthorizerFuncs{
		HandshakeFunc: func(r *http.Request, m *bayeux.Message) (any, error) {
			if u, _ := extUser(m); u != "" {
				return nil, &bayeux.Error{Code: 401, Message: "gms_user header required on long-polling"}
			}
			return "", nil
		},
		SubscribeFunc: func(*bayeux.Client, string) error { return errNoUser },
	}
	anon.Replayer = nil
	anon.OnSessionEnd = nil
	p.anon = bayeux.NewServer(anon)
	p.wg.Add(1)
	go p.janitor()
	return p
}

var errNoUser = &bayeux.Error{Code: 401, Message: "gms_user required"}

// extUser returns the handshake's ext.gms_user; ok is false when the field
// is present but not a JSON string.
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

// Handler returns the HTTP handler of the CometD endpoint. Mount it at the
// "_comet_url" path and below (e.g. "/genesys/cometd" and
// "/genesys/cometd/"): the CometD client appends "/handshake", "/connect",
// ... to long-polling URLs. Websocket upgrades and long-polling POSTs share
// the path (see bayeux.Server.Handler). When the pusher is closed or
// MaxEndpoints is reached, it answers HTTP 503.
func (p *CometPusher) Handler() http.Handler { return http.HandlerFunc(p.serveHTTP) }

func (p *CometPusher) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if user := r.Header.Get(UserHeader); user != "" {
		if len(user) > MaxUserHeaderBytes {
			http.Error(w, "gms_user too long", http.StatusBadRequest)
			return
		}
		srv := p.userServer(user)
		if srv == nil {
			http.Error(w, "comet endpoint unavailable", http.StatusServiceUnavailable)
			return
		}
		srv.Handler().ServeHTTP(w, r)
		return
	}
	if websocket.IsWebSocketUpgrade(r) {
		p.serveConnWebSocket(w, r)
		return
	}
	p.anon.Handler().ServeHTTP(w, r)
}

// userServer returns the endpoint of a gms_user header, creating it; nil
// when closed or at MaxEndpoints.
func (p *CometPusher) userServer(user string) *bayeux.Server {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	if e := p.users[user]; e != nil {
		e.lastUsed = time.Now()
		return e.srv
	}
	if p.endpoints >= p.opts.MaxEndpoints {
		p.log.Warn("gms comet: endpoint limit reached", "limit", p.opts.MaxEndpoints)
		return nil
	}
	o := p.opts.Bayeux
	o.MaxClients = p.opts.MaxSessionsPerUser
	o.Replayer = nil
	o.OnSessionEnd = nil
	e := &userEndpoint{lastUsed: time.Now()}
	o.Authorizer = bayeux.AuthorizerFuncs{
		HandshakeFunc: func(r *http.Request, m *bayeux.Message) (any, error) {
			u, ok := extUser(m)
			if !ok || (u != "" && u != user) {
				return nil, &bayeux.Error{Code: 401, Message: "ext.gms_user does not match the gms_user header"}
			}
			return user, nil
		},
		SubscribeFunc: func(c *bayeux.Client, ch string) error {
			return p.allowSubscribe(c, ch, e.srv)
		},
	}
	e.srv = bayeux.NewServer(o)
	p.users[user] = e
	p.endpoints++
	return e.srv
}

// allowSubscribe is the Subscribe hook of every user endpoint: only
// CometChannel, only with a gms_user. It starts the delivery of the user's
// kept notifications.
func (p *CometPusher) allowSubscribe(c *bayeux.Client, ch string, srv *bayeux.Server) error {
	user, _ := c.Identity().(string)
	if user == "" {
		return errNoUser
	}
	if ch != CometChannel {
		return &bayeux.Error{Code: 403, Message: "only " + CometChannel + " can be subscribed"}
	}
	if notes := p.takePending(user); len(notes) > 0 {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.deliverPending(user, srv, notes)
	}
	return nil
}

// serveConnWebSocket serves a websocket upgrade without gms_user header on
// a Bayeux server of its own, bound to the gms_user of its first handshake
// that names ext.gms_user, and closed when the connection ends.
func (p *CometPusher) serveConnWebSocket(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.closed || p.endpoints >= p.opts.MaxEndpoints {
		p.mu.Unlock()
		http.Error(w, "comet endpoint unavailable", http.StatusServiceUnavailable)
		return
	}
	p.endpoints++
	p.mu.Unlock()
	released := false
	defer func() {
		if !released { // NewServer panicked or registration failed
			p.mu.Lock()
			p.endpoints--
			p.mu.Unlock()
		}
	}()

	var (
		bindMu sync.Mutex
		bound  string
		srv    *bayeux.Server
	)
	o := p.opts.Bayeux
	o.MaxClients = 2 // a re-handshake on the same socket, while the old session expires
	o.Replayer = nil
	o.OnSessionEnd = nil
	o.Authorizer = bayeux.AuthorizerFuncs{
		HandshakeFunc: func(_ *http.Request, m *bayeux.Message) (any, error) {
			u, ok := extUser(m)
			if !ok {
				return nil, &bayeux.Error{Code: 400, Message: "ext.gms_user must be a string of at most 256 bytes"}
			}
			if u == "" {
				return "", nil
			}
			bindMu.Lock()
			defer bindMu.Unlock()
			if bound != "" && bound != u {
				return nil, &bayeux.Error{Code: 401, Message: "gms_user differs from this connection's"}
			}
			if bound == "" {
				if !p.addConn(u, srv) {
					return nil, &bayeux.Error{Code: 503, Message: "comet endpoint closing"}
				}
				bound = u
			}
			return u, nil
		},
		SubscribeFunc: func(c *bayeux.Client, ch string) error {
			return p.allowSubscribe(c, ch, srv)
		},
	}
	srv = bayeux.NewServer(o)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		srv.Close()
		http.Error(w, "comet endpoint unavailable", http.StatusServiceUnavailable)
		return
	}
	p.wsAll[srv] = true
	released = true
	p.mu.Unlock()
	defer func() {
		bindMu.Lock()
		u := bound
		bindMu.Unlock()
		p.mu.Lock()
		if u != "" {
			if set := p.conns[u]; set != nil {
				delete(set, srv)
				if len(set) == 0 {
					delete(p.conns, u)
				}
			}
		}
		delete(p.wsAll, srv)
		p.endpoints--
		p.mu.Unlock()
		srv.Close()
	}()
	srv.Handler().ServeHTTP(w, r) // returns when the websocket ends
}

func (p *CometPusher) addConn(user string, srv *bayeux.Server) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	set := p.conns[user]
	if set == nil {
		set = make(map[*bayeux.Server]bool)
		p.conns[user] = set
	}
	set[srv] = true
	return true
}

// servers returns the endpoints of user.
func (p *CometPusher) servers(user string) []*bayeux.Server {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*bayeux.Server
	if e := p.users[user]; e != nil {
		out = append(out, e.srv)
	}
	for s := range p.conns[user] {
		out = append(out, s)
	}
	return out
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
	delivered := 0
	for _, s := range p.servers(deviceID) {
		k, err := s.Publish(CometChannel, data)
		if err != nil {
			return fmt.Errorf("gms comet push: %w", err)
		}
		delivered += k
	}
	if delivered > 0 {
		return nil
	}
	p.keep(deviceID, data)
	return fmt.Errorf("gms comet push to %q: %w", deviceID, ErrPushPending)
}

func (p *CometPusher) keep(user string, data json.RawMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	list, ok := p.pending[user]
	if !ok && len(p.pending) >= p.opts.MaxPendingUsers {
		p.log.Warn("gms comet: pending users limit reached, notification not kept", "limit", p.opts.MaxPendingUsers)
		return
	}
	list = append(list, pendingNote{data: data, expires: time.Now().Add(p.opts.PendingTTL)})
	if len(list) > p.opts.MaxPendingPerUser {
		list = list[len(list)-p.opts.MaxPendingPerUser:]
	}
	p.pending[user] = list
}

// takePending removes and returns the unexpired kept notifications of user.
func (p *CometPusher) takePending(user string) []json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.pending[user]
	delete(p.pending, user)
	now := time.Now()
	var out []json.RawMessage
	for _, n := range list {
		if now.Before(n.expires) {
			out = append(out, n.data)
		}
	}
	return out
}

// deliverPending publishes kept notifications once the subscription that
// triggered it is registered (the Subscribe hook runs before), retrying
// every 5 ms for up to 2 s; what is not delivered is kept again.
func (p *CometPusher) deliverPending(user string, srv *bayeux.Server, notes []json.RawMessage) {
	defer p.wg.Done()
	deadline := time.Now().Add(2 * time.Second)
	for len(notes) > 0 {
		k, err := srv.Publish(CometChannel, notes[0])
		if err != nil {
			p.log.Warn("gms comet: kept notification not published", "err", err)
			notes = notes[1:]
			continue
		}
		if k > 0 {
			notes = notes[1:]
			continue
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-p.stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	for _, n := range notes {
		p.keep(user, n)
	}
}

// Connected returns the number of live Bayeux sessions of user (subscribed
// or not).
func (p *CometPusher) Connected(user string) int {
	n := 0
	for _, s := range p.servers(user) {
		n += s.ClientCount()
	}
	return n
}

// janitor closes idle user endpoints and drops expired kept notifications.
func (p *CometPusher) janitor() {
	defer p.wg.Done()
	every := min(max(p.opts.IdleTTL/4, 10*time.Millisecond), 5*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			var idle []*bayeux.Server
			p.mu.Lock()
			for u, e := range p.users {
				if now.Sub(e.lastUsed) > p.opts.IdleTTL && e.srv.ClientCount() == 0 {
					delete(p.users, u)
					p.endpoints--
					idle = append(idle, e.srv)
				}
			}
			for u, list := range p.pending {
				for len(list) > 0 && !now.Before(list[0].expires) {
					list = list[1:]
				}
				if len(list) == 0 {
					delete(p.pending, u)
				} else {
					p.pending[u] = list
				}
			}
			p.mu.Unlock()
			for _, s := range idle {
				s.Close()
			}
		}
	}
}

// Close ends every session and endpoint and stops the pusher; Push then
// fails. It is safe to call more than once.
func (p *CometPusher) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var all []*bayeux.Server
	for _, e := range p.users {
		all = append(all, e.srv)
	}
	for s := range p.wsAll {
		all = append(all, s)
	}
	p.users = map[string]*userEndpoint{}
	p.mu.Unlock()
	// Servers first: their Close waits for requests in progress, so no
	// Subscribe hook starts a delivery after wg.Wait begins.
	for _, s := range all {
		s.Close()
	}
	p.anon.Close()
	close(p.stop)
	p.wg.Wait()
}
