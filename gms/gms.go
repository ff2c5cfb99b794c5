// Package gms serves the Genesys Mobile Services (GMS) callback API for the
// "Chat Delayed" scenario (seed 003; docs.genesys.com GMS "Chat Delayed" and
// "Callback Services API"), on top of the routing engine's holds:
//
//  1. Start callback: POST /genesys/1/service/callback/{service} queues a
//     conversation (routing.CreateConversation with Hold and HoldAttempts)
//     and answers {"_id","_text"}. When the engine holds an agent for it
//     (routing.AgentHeld) the device gets the agent-available Notification
//     {id, message:{_action:"get-dialog-user-confirmation-provide_code-false",
//     _id}, tag:"service.agentavailable.<_id>"} through its Pusher, or through
//     retrieve-notifications when its _device_os has no pusher.
//  2. Connect: POST /genesys/1/service/{id}/connect answers the StartChat
//     dialog (_start_chat_url, _comet_url, _user_header...).
//  3. Initiate chat: POST /genesys/1/service/{id}/ixn/chat confirms the hold
//     (routing.ConfirmHold): the held agent is offered the chat. 503 while
//     the agent-available notification has not been sent (PROTOCOLS.md).
//
// Plus check-queue-position (position, EWT from routing/waittime),
// internal-notification / retrieve-notifications (agent -> device),
// agent-notification / retrieve-agent-notifications (device -> agent),
// GET and DELETE /genesys/1/service/callback/{service}/{id} (the record:
// _id, _desired_time, _service_name, _callback_state, _expiration_time,
// _customer_number, _callback_reason), GET
// /genesys/1/service/callback/{service}?_customer_number=N (a device's
// callbacks with that number; all of them for an admin), and the admin
// API /genesys/1/admin/services[/{name}] (GET, PUT, DELETE) and GET
// /genesys/1/admin/callback/queues (waiting callbacks by service).
//
// A create needs _customer_number (400 otherwise) and takes no
// _desired_time in the future (no scheduled callbacks); its TTL is the
// service's ttlSeconds, else the queue's, else DefaultCallbackTTL. A body
// that declares multipart/form-data but is not is refused (400), never
// read as an empty form. ixn/chat's fields become the conversation's
// customer ({firstName, lastName, email, nickname, phoneNumber}) and
// attributes before the offer. The gms_user is never logged.
//
// Ownership: a callback belongs to the device whose gms_user header created
// it; every per-callback request must carry the same gms_user, else 404
// (the same answer as an unknown id). The agent-side endpoints
// (internal-notification, retrieve-agent-notifications) take no gms_user:
// only an administrator, the agent the callback's conversation is assigned
// to, or a supervisor of that agent's team (Options.AgentAuth), else 401
// (no credential) or 404. A service with a username and password also
// requires HTTP basic auth on the device's requests.
//
// Errors are {"message": "...", "exception": "<Name>Exception"} with a 4xx
// or 5xx status. Seed 003 and the GMS docs show no error body; the shape is
// omniroute's choice, modelled on GMS's Java exception responses. A refused
// request changes nothing (no engine command is submitted).
//
// The callbacks' GMS-side state (owner, device, notifications, chat fields)
// lives in memory and, with Options.Store, in a durable Store (the server
// uses the JetStream KV bucket KVBucket): every change a request causes is
// stored before the answer, every change an engine event causes as the
// event is applied. New re-adopts the stored callbacks and reconciles them
// with the engine, so after a restart they answer as before. Without a
// Store a restart forgets them, while the conversations stay in the engine.
package gms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omniroute/omniroute/clock"
	"github.com/omniroute/omniroute/erasure"
	"github.com/omniroute/omniroute/guard"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// Notification is the GMS push payload (seed 003 "Push Notification Data").
type Notification struct {
	ID      string         `json:"id"`
	Message map[string]any `json:"message"`
	Tag     string         `json:"tag"`
}

// Pusher delivers a notification to a device: deviceID is
// _device_notification_id (for comet: the gms_user), deviceOS is _device_os
// ("comet", "customhttp", ...).
type Pusher interface {
	Push(ctx context.Context, deviceOS, deviceID string, n Notification) error
}

// Notification actions and tag prefixes (seed 003).
const (
	ActionAgentAvailable = "get-dialog-user-confirmation-provide_code-false"
	TagAgentAvailable    = "service.agentavailable."
	// TagMessage tags internal-notification pushes (agent -> device); the
	// seed shows only the message, so the tag is omniroute's choice.
	TagMessage = "service.message."
	// TagAgentMessage tags retrieve-agent-notifications items (seed 003).
	TagAgentMessage = "agent.message."
	// CometChannel is ixn/chat's comet_channel (seed 003).
	CometChannel = "/_genesys"
	// UserHeader is the device identity header (seed 003 _user_header).
	UserHeader = "gms_user"
)

// Limits.
const (
	// MaxUserHeaderBytes bounds gms_user and _device_notification_id.
	MaxUserHeaderBytes = 256
	// MaxLiveCallbacks bounds callbacks not yet COMPLETED (503 beyond).
	MaxLiveCallbacks = 100_000
	// RetainedCompleted is how many COMPLETED callbacks stay readable
	// (GET shows their state and reason), across restarts with a Store;
	// the oldest completed are forgotten (and deleted from the Store) first.
	RetainedCompleted = 10_000
	// MaxPendingNotifications bounds each direction's undelivered
	// notifications per callback (429 beyond).
	MaxPendingNotifications = 100
	// DefaultServiceMaxLive is a service's own cap on live callbacks when
	// its spec leaves MaxLiveCallbacks 0.
	DefaultServiceMaxLive = 10_000
	// CreatePerUserBurst start-callbacks per gms_user at once, then
	// CreatePerUserPerMinute: a device asks for a callback or two.
	CreatePerUserBurst     = 3
	CreatePerUserPerMinute = 6
	// CreatePerAddressBurst start-callbacks per client address at once, then
	// CreatePerAddressPerSecond (a mobile carrier's NAT holds many devices).
	CreatePerAddressBurst     = 30
	CreatePerAddressPerSecond = 3
	// DefaultCallbackTTL is a callback's time to live when neither its
	// service (ttlSeconds) nor its queue sets one: a callback nobody takes
	// within a day is over (COMPLETED, FAIL_TIMEOUT_TTL-like reason from the
	// engine), and _expiration_time is always a real deadline.
	DefaultCallbackTTL = 24 * time.Hour
	// MaxCustomerNumberBytes bounds _customer_number.
	MaxCustomerNumberBytes = 64
	// DefaultPushTimeout bounds one Pusher.Push call.
	DefaultPushTimeout = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	// CustomerKeys seals, with the customer's key (package erasure), the
	// customer object a chat callback gives the engine (ConfirmHold), the
	// customer's attributes (every form field but plainAttributes) and the
	// customer fields of the Store's records (Record.Sealed); the
	// callback's _customer_number names the customer (customerOf). nil:
	// stored as given.
	CustomerKeys *erasure.Keyring
	// Pushers by _device_os. A device whose OS has none gets its
	// notifications only through retrieve-notifications.
	Pushers map[string]Pusher
	// Services are the initial services (config gmsServices).
	Services []ServiceSpec
	// AdminAuth says whether a request may use the admin API (nil: nobody).
	AdminAuth func(*http.Request) bool
	// AgentAuth identifies the caller of the agent-side endpoints
	// (internal-notification, retrieve-agent-notifications) from its
	// credentials: an administrator (admin), an agent (its id), or nobody
	// (ok false; also when nil). Only an administrator, the agent the
	// callback's conversation is assigned to or a supervisor of that
	// agent's team may call them (auth.go authorizeAgent).
	AgentAuth func(*http.Request) (agent string, admin, ok bool)
	// AgentNotifier, when set, also delivers each agent-notification
	// (device -> agent) to the agent desk of the callback's conversation
	// (the conversation id is the callback id), so the agent need not
	// poll retrieve-agent-notifications. data holds _id,
	// _internal_message, _display_message and tag. A failure is logged;
	// the note stays retrievable either way.
	AgentNotifier func(ctx context.Context, conversation string, data map[string]string) error
	// BaseURL, when set (http://host:port), builds _start_chat_url and
	// _comet_url; else they are built from the request's Host.
	BaseURL string
	// IDPrefix starts every callback id, "<IDPrefix>-<uuid>" (default "1";
	// GMS uses its node id, seed 003 "369-...").
	IDPrefix string
	// Now is the clock for estimates (default Clock.Now).
	Now func() time.Time
	// Clock is the server's time source (default clock.Real); Now, when
	// set, overrides its reading for estimates and holds.
	Clock clock.Clock
	// PushTimeout bounds one push (default DefaultPushTimeout).
	PushTimeout time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Store, when set, keeps the callbacks durably: New loads and
	// re-adopts them (nil: memory only).
	Store Store
	// ClaimPush, when set (cluster mode: several nodes apply the same
	// events), is asked before a push triggered by a journaled event, with
	// a key equal on every node for that notification ("<entry>.<command>.
	// <callback id>"); only the node it answers true pushes, so the device
	// is notified once. An error pushes anyway (at least once). Nil: every
	// notification is pushed.
	ClaimPush func(ctx context.Context, key string) (bool, error)
	// NodeID, in cluster mode, names this node in the records it writes.
	// With a Store that is a Watcher, every node then knows every
	// callback, whichever node created it: it adopts the records other
	// nodes write, applies the engine's events to them and, with
	// ClaimPush, takes its turn at the pushes; so when the creating node
	// dies the survivors push and answer for its callbacks.
	NodeID string
}

// LoadTimeout bounds New's loading of the Store.
const LoadTimeout = 30 * time.Second

// Callback states and reasons (GMS _callback_state, _callback_reason).
const (
	StateQueued     = "QUEUED"
	StateRouting    = "ROUTING"
	StateProcessing = "PROCESSING"
	StateCompleted  = "COMPLETED"

	ReasonTimeoutTTL       = "FAIL_TIMEOUT_TTL"
	ReasonUserNotConfirmed = "FAIL_USER_NOT_CONFIRMED"
	ReasonCancelled        = "CANCELLED"
	ReasonAbandoned        = "ABANDONED"
	ReasonSuccess          = "SUCCESS"
)

type agentNote struct {
	Message string `json:"message"`
	Tag     string `json:"tag"`
}

type callback struct {
	id, service, owner string
	deviceOS, deviceID string
	customerNumber     string
	queue              string
	createdAt          time.Time
	desiredAt          time.Time // _desired_time: when the customer wants the callback (createdAt: now)
	expiresAt          time.Time // _expiration_time: the engine's TTL deadline
	completedAt        time.Time
	state, reason      string
	agent              string
	notified           bool // an agent-available notification was sent
	chatStarted        bool // ixn/chat confirmed the hold
	dialogs            int
	chat               Form
	toDevice           []map[string]any
	toAgent            []agentNote
	// First estimate, for the queue's History.
	estimate time.Duration
	estPos   int
	estAt    time.Time

	saveMu    sync.Mutex // serializes the Store writes of this callback
	forgotten bool       // dropped by the retention: delete from the Store
}

// Server serves the GMS API. Create with New, stop with Close.
type Server struct {
	n     *node.Node
	o     Options
	log   *slog.Logger
	mux   *http.ServeMux
	ctx   context.Context
	stop  context.CancelFunc
	done  chan struct{}
	pushW sync.WaitGroup

	mu sync.Mutex
	// origin is the journal entry and command of the event being applied
	// (follow; set false otherwise), the key of ClaimPush (eventOrigin.key).
	// Kept as numbers: most events push nothing, so the key is formatted
	// only when a push needs it.
	origin    eventOrigin
	services  map[string]*service
	callbacks map[string]*callback
	live      int
	// liveByService counts live callbacks per service (ServiceSpec.MaxLiveCallbacks).
	liveByService map[string]int
	// createPerUser and createPerAddress rate start-callback (guard.Limiter).
	createPerUser, createPerAddress *guard.Limiter
	completed                       []string
	stats                           map[string]*queueStats
	tasks                           map[string]taskInfo
}

// New starts a Server following n's events. Errors: an invalid service spec.
func New(n *node.Node, o Options) (*Server, error) {
	if o.IDPrefix == "" {
		o.IDPrefix = "1"
	}
	o.Clock = clock.Or(o.Clock)
	if o.Now == nil {
		o.Now = o.Clock.Now
	}
	if o.PushTimeout <= 0 {
		o.PushTimeout = DefaultPushTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Store = sealStore(o.Store, o.CustomerKeys)
	s := &Server{n: n, o: o, log: o.Logger, done: make(chan struct{}), services: map[string]*service{},
		callbacks: map[string]*callback{}, stats: map[string]*queueStats{}, tasks: map[string]taskInfo{},
		liveByService:    map[string]int{},
		createPerUser:    guard.NewLimiter(CreatePerUserPerMinute/60.0, CreatePerUserBurst, o.Now),
		createPerAddress: guard.NewLimiter(CreatePerAddressPerSecond, CreatePerAddressBurst, o.Now)}
	for _, spec := range o.Services {
		if err := s.PutService(spec); err != nil {
			return nil, err
		}
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	ch, cancel := n.Subscribe()
	go s.follow(ch, cancel)
	if err := s.watchStore(); err != nil {
		s.stop()
		<-s.done
		return nil, err
	}
	if len(s.callbacks) > 0 {
		// Events the stored records missed (the server stopped between an
		// event and its write, or while down) are caught up from the
		// engine's state; later events reach the follower.
		s.reconcile()
	}
	s.routes()
	return s, nil
}

// load re-adopts the Store's callbacks: the live ones, and the completed
// ones up to RetainedCompleted (oldest completion forgotten first).
func (s *Server) load() error {
	if s.o.Store == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), LoadTimeout)
	defer cancel()
	recs, err := s.o.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("gms: loading callbacks: %w", err)
	}
	var done []*callback
	for _, r := range recs {
		cb, err := fromRecord(r)
		if err != nil {
			s.log.Warn("gms: stored callback skipped", "err", err)
			continue
		}
		s.callbacks[cb.id] = cb
		if cb.state == StateCompleted {
			done = append(done, cb)
		} else {
			s.live++
			s.liveByService[cb.service]++
		}
	}
	slices.SortFunc(done, func(a, b *callback) int {
		if c := a.completedAt.Compare(b.completedAt); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for len(done) > RetainedCompleted {
		delete(s.callbacks, done[0].id)
		if err := s.o.Store.Delete(ctx, done[0].id); err != nil {
			s.log.Warn("gms: expired callback record not deleted", "callback", done[0].id, "err", err)
		}
		done = done[1:]
	}
	for _, cb := range done {
		s.completed = append(s.completed, cb.id)
	}
	if len(s.callbacks) > 0 {
		s.log.Info("gms: callbacks re-adopted", "live", s.live, "completed", len(s.completed))
	}
	return nil
}

// Handler serves everything under /genesys/.
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops following the node and waits for pushes in flight.
func (s *Server) Close() {
	s.stop()
	<-s.done
	s.pushW.Wait()
}

// PutService creates or replaces a service. Errors: the spec's Validate,
// or too many services.
func (s *Server) PutService(spec ServiceSpec) error {
	sv, err := newService(spec)
	if err != nil {
		return err
	}
	if _, ok := spec.Options[OptURSServerURL]; ok {
		s.log.Info("gms: option _urs_server_url is ignored: omniroute routes the callback itself", "service", spec.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.services[spec.Name]; !ok && len(s.services) >= MaxServices {
		return errors.New("gms: too many services")
	}
	s.services[spec.Name] = sv
	return nil
}

// newNotificationID returns 32 hexadecimal digits (128 bits from
// crypto/rand), the id of a push notification.
func newNotificationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// follow applies the node's events to the callbacks and the wait
// statistics. A dropped subscription is renewed and the callbacks are
// reconciled with the engine's state.
func (s *Server) follow(ch <-chan node.Published, cancel func()) {
	defer close(s.done)
	for {
		select {
		case <-s.ctx.Done():
			cancel()
			return
		case p, ok := <-ch:
			if !ok {
				select {
				case <-s.ctx.Done():
					return
				case <-s.n.Done():
					return
				default:
				}
				s.log.Warn("gms: event subscription dropped; resubscribing")
				ch, cancel = s.n.Subscribe()
				s.reconcile()
				continue
			}
			s.mu.Lock()
			s.origin = eventOrigin{seq: p.Seq, cmd: p.Cmd, set: true}
			s.mu.Unlock()
			s.apply(p.Event)
			s.mu.Lock()
			s.origin = eventOrigin{}
			s.mu.Unlock()
		}
	}
}

// apply updates the state from one event, then stores the callbacks it
// changed.
// eventOrigin names the node.Published event being applied: its journal
// entry and command within it.
type eventOrigin struct {
	seq uint64
	cmd int
	set bool
}

// key is "<entry>.<command>", "" when no event is being applied.
func (o eventOrigin) key() string {
	if !o.set {
		return ""
	}
	return strconv.FormatUint(o.seq, 10) + "." + strconv.Itoa(o.cmd)
}

func (s *Server) apply(ev routing.Event) {
	s.mu.Lock()
	changed := s.applyLocked(ev)
	s.mu.Unlock()
	s.saveLogged(SourceEvent, changed...)
}

func (s *Server) applyLocked(ev routing.Event) []*callback {
	s.observe(ev)
	switch e := ev.(type) {
	case routing.AgentHeld:
		cb := s.callbacks[e.Request]
		if cb == nil || cb.state == StateCompleted {
			return nil
		}
		cb.state, cb.agent = StateRouting, e.Agent
		if cb.estimate > 0 {
			s.queue(cb.queue).hist.Observe(cb.estimate, e.At.Sub(cb.estAt), cb.estPos)
			cb.estimate = 0
		}
		// Every hold is announced (a callback with HoldAttempts > 1 may be
		// held again after an expiry), unless the chat was started already.
		if !cb.chatStarted {
			cb.notified = true
			s.notifyLocked(cb, Notification{ID: newNotificationID(), Tag: TagAgentAvailable + cb.id,
				Message: map[string]any{"_action": ActionAgentAvailable, "_id": cb.id}})
		}
		return []*callback{cb}
	case routing.HoldReleased:
		cb := s.callbacks[e.Request]
		if cb == nil || cb.state == StateCompleted {
			return nil
		}
		if r := string(e.Reason); r != "CONFIRMED" && r != "CANCELLED" && cb.state == StateRouting {
			cb.state = StateQueued
			return []*callback{cb}
		}
	case routing.TaskReserved:
		if cb := s.callbacks[e.Conversation]; cb != nil && cb.state != StateCompleted {
			cb.state, cb.agent = StateProcessing, e.Agent
			return []*callback{cb}
		}
	case routing.ConversationClosed:
		cb := s.callbacks[e.Conversation]
		if cb == nil || cb.state == StateCompleted {
			return nil
		}
		return s.completeLocked(cb, completionReason(e.Reason))
	}
	return nil
}

func completionReason(r routing.CloseReason) string {
	switch r {
	case routing.ReasonUnconfirmed:
		return ReasonUserNotConfirmed
	case routing.ReasonExpired, routing.ReasonNoAgentAvailable:
		return ReasonTimeoutTTL
	case routing.ReasonCancelled:
		return ReasonCancelled
	case routing.ReasonAbandoned:
		return ReasonAbandoned
	case routing.ReasonDone:
		return ReasonSuccess
	}
	return string(r)
}

// completeLocked completes cb; it returns the callbacks to store: cb and
// the completed one the retention forgot, if any.
func (s *Server) completeLocked(cb *callback, reason string) []*callback {
	cb.state, cb.reason, cb.completedAt = StateCompleted, reason, s.o.Now()
	s.live--
	s.liveByService[cb.service]--
	s.completed = append(s.completed, cb.id)
	changed := []*callback{cb}
	if len(s.completed) > RetainedCompleted {
		old := s.completed[0]
		s.completed = s.completed[1:]
		if o := s.callbacks[old]; o != nil {
			o.forgotten = true
			changed = append(changed, o)
		}
		delete(s.callbacks, old)
	}
	return changed
}

// notifyLocked pushes n to cb's device, or queues n.Message for
// retrieve-notifications when the device's OS has no pusher or the push
// fails.
func (s *Server) notifyLocked(cb *callback, n Notification) {
	p := s.o.Pushers[cb.deviceOS]
	if p == nil || cb.deviceID == "" {
		s.queueToDevice(cb, n.Message)
		return
	}
	origin := s.origin.key()
	s.pushW.Add(1)
	go func() {
		defer s.pushW.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.o.PushTimeout)
		defer cancel()
		if s.o.ClaimPush != nil && origin != "" {
			mine, err := s.o.ClaimPush(ctx, origin+"."+cb.id)
			if err != nil {
				s.log.Warn("gms: push claim failed; pushing anyway", "callback", cb.id, "err", err)
			} else if !mine {
				return // another node of the cluster pushes this one
			}
		}
		if err := p.Push(ctx, cb.deviceOS, cb.deviceID, n); err != nil {
			s.log.Warn("gms: push failed; kept for retrieve-notifications", "callback", cb.id, "os", cb.deviceOS, "err", err)
			s.mu.Lock()
			s.queueToDevice(cb, n.Message)
			s.mu.Unlock()
			s.saveLogged("", cb)
		}
	}()
}

func (s *Server) queueToDevice(cb *callback, m map[string]any) {
	if len(cb.toDevice) >= MaxPendingNotifications {
		cb.toDevice = cb.toDevice[1:]
	}
	cb.toDevice = append(cb.toDevice, m)
}

// reconcile brings the callbacks up to date with the engine after missed
// events: closed conversations complete, held requests notify.
func (s *Server) reconcile() {
	type fact struct {
		closed bool
		reason routing.CloseReason
		held   string
		known  bool
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.callbacks))
	announced := map[string]string{} // id -> agent already announced
	for id, cb := range s.callbacks {
		if cb.state != StateCompleted {
			ids = append(ids, id)
			if cb.state == StateRouting && cb.notified {
				announced[id] = cb.agent
			}
		}
	}
	s.mu.Unlock()
	facts := map[string]fact{}
	_ = s.n.View(s.ctx, func(st routing.View) {
		for _, id := range ids {
			c, ok := st.Conversation(id)
			if !ok {
				continue
			}
			f := fact{known: true, closed: c.State == "CLOSED", reason: c.CloseReason}
			if c.Request != nil {
				f.held = c.Request.HeldAgent
			}
			facts[id] = f
		}
	})
	for id, f := range facts {
		switch {
		case f.closed:
			s.apply(routing.ConversationClosed{Conversation: id, Reason: f.reason})
		case f.held != "" && announced[id] != f.held:
			s.apply(routing.AgentHeld{Request: id, Conversation: id, Agent: f.held, At: s.o.Now()})
		}
	}
}
