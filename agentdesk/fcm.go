package agentdesk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// FCM push (seed 004 "Technical Overview": "A 3rd-party notification
// service, Firebase Cloud Messaging platform (FCM) will push the messages
// from Agent Manager to the custom Agent Desk").
//
// When an agent registered an FCM token (the socket's auth.fcm) and has no
// live socket, its taskRequest and revokeTask go out as FCM HTTP v1
// messages (firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send):
//
//	POST {FCMEndpoint}/v1/projects/{FCMProject}/messages:send
//	Authorization: Bearer <OAuth 2 access token>
//	{"message":{"token":"<registration token>","data":{...},"android":{"priority":"high"}}}
//
// FCM data values must be strings; data is
//
//	{"event":"taskRequest"|"revokeTask","conversationId","taskId","payload":"<the socket payload as JSON>"}
//
// A bounded queue (FCMQueueSize) feeds one sender goroutine; a full queue
// drops the message (counted, logged): offers have RONA behind them, so a
// lost push never loses work. Each message is retried up to FCMMaxAttempts
// times on a network error, 429 or 5xx, with exponential backoff from
// FCMBackoff (honouring Retry-After); other 4xx are final, and 404 or an
// UNREGISTERED error forgets the agent's token.

// Defaults of the FCM options.
const (
	DefaultFCMEndpoint    = "https://fcm.googleapis.com"
	DefaultFCMQueueSize   = 1024
	DefaultFCMMaxAttempts = 5
	DefaultFCMBackoff     = 500 * time.Millisecond
	// fcmMaxBackoff caps one wait between attempts.
	fcmMaxBackoff = 30 * time.Second
	// fcmMaxResponseBytes bounds the error body read from FCM.
	fcmMaxResponseBytes = 16 << 10
)

// FCMMessage is the body of an FCM HTTP v1 send: {"message": ...}.
type FCMMessage struct {
	Message FCMMessageBody `json:"message"`
}

// FCMMessageBody is FCM's Message resource, the fields omniroute sets:
// Token is the registration token, Data string pairs, Android.Priority
// "high" (deliver at once, waking the device).
type FCMMessageBody struct {
	Token   string            `json:"token"`
	Data    map[string]string `json:"data"`
	Android FCMAndroidConfig  `json:"android"`
}

// FCMAndroidConfig is FCM's AndroidConfig; Priority is "high" or "normal".
type FCMAndroidConfig struct {
	Priority string `json:"priority"`
}

// FCMStats are the notifier's counters.
type FCMStats struct {
	// Sent: accepted by FCM (2xx). Failed: given up after the attempts or
	// refused for good. Dropped: the queue was full.
	Sent, Failed, Dropped uint64
}

type fcmJob struct {
	agent, token string
	claim        string // claimKey of the event, "" for none
	msg          FCMMessage
}

// fcmNotifier sends FCM messages from a bounded queue.
type fcmNotifier struct {
	srv      *Server
	endpoint string
	client   *http.Client
	token    func(ctx context.Context) (string, error)
	queue    chan fcmJob
	done     chan struct{}

	sent, failed, dropped atomic.Uint64
}

// newFCM returns nil when FCM is not configured (no project, or neither
// an access token nor a token source).
func newFCM(s *Server) *fcmNotifier {
	o := s.opts
	if o.FCMProject == "" || (o.FCMAccessToken == "" && o.FCMTokenSource == nil) {
		return nil
	}
	src := o.FCMTokenSource
	if src == nil {
		tok := o.FCMAccessToken
		src = func(context.Context) (string, error) { return tok, nil }
	}
	client := o.FCMHTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	endpoint := strings.TrimRight(o.FCMEndpoint, "/")
	return &fcmNotifier{srv: s, client: client, token: src, queue: make(chan fcmJob, o.FCMQueueSize), done: make(chan struct{}),
		endpoint: endpoint + "/v1/projects/" + url.PathEscape(o.FCMProject) + "/messages:send"}
}

// enqueue queues a push; false when the queue is full (dropped).
func (f *fcmNotifier) enqueue(j fcmJob) bool {
	select {
	case f.queue <- j:
		return true
	default:
		f.dropped.Add(1)
		f.srv.log.Warn("agentdesk: FCM queue full; push dropped", "agent", j.agent, "event", j.msg.Message.Data["event"])
		return false
	}
}

// run sends queued pushes until the server closes.
func (f *fcmNotifier) run() {
	defer close(f.done)
	for {
		select {
		case j := <-f.queue:
			if f.claim(j.claim, j.agent) {
				f.send(j)
			}
		case <-f.srv.quit:
			return
		}
	}
}

// send delivers one push with retries.
func (f *fcmNotifier) send(j fcmJob) {
	body, err := json.Marshal(j.msg)
	if err != nil {
		f.failed.Add(1)
		return
	}
	wait := f.srv.opts.FCMBackoff
	for attempt := 1; ; attempt++ {
		retry, after, err := f.post(body)
		if err == nil {
			f.sent.Add(1)
			return
		}
		if !retry || attempt >= f.srv.opts.FCMMaxAttempts {
			f.failed.Add(1)
			f.srv.log.Warn("agentdesk: FCM push failed", "agent", j.agent, "attempts", attempt, "err", err)
			if errors.Is(err, errFCMUnregistered) {
				f.srv.life.forgetFCM(j.agent, j.token)
			}
			return
		}
		t := f.srv.opts.Clock.NewTimer(min(max(wait, after), fcmMaxBackoff))
		select {
		case <-t.C():
		case <-f.srv.quit:
			t.Stop()
			return
		}
		wait *= 2
	}
}

var errFCMUnregistered = errors.New("FCM token unregistered")

// post makes one attempt: retry says whether another may succeed, after
// is the server's Retry-After.
func (f *fcmNotifier) post(body []byte) (retry bool, after time.Duration, err error) {
	ctx, cancel := context.WithTimeout(f.srv.ctx, 15*time.Second)
	defer cancel()
	tok, err := f.token(ctx)
	if err != nil {
		return true, 0, fmt.Errorf("access token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.endpoint, bytes.NewReader(body))
	if err != nil {
		return false, 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := f.client.Do(req)
	if err != nil {
		return true, 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, fcmMaxResponseBytes))
	if resp.StatusCode/100 == 2 {
		return false, 0, nil
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		after = time.Duration(s) * time.Second
	}
	err = fmt.Errorf("FCM answered %d: %s", resp.StatusCode, truncate(string(msg), 200))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, after, err
	case resp.StatusCode == http.StatusNotFound || bytes.Contains(msg, []byte("UNREGISTERED")):
		return false, 0, fmt.Errorf("%w: %v", errFCMUnregistered, err)
	}
	return false, 0, err
}

// FCMStats returns the FCM counters (zero when FCM is not configured).
func (s *Server) FCMStats() FCMStats {
	if s.fcm == nil {
		return FCMStats{}
	}
	return FCMStats{Sent: s.fcm.sent.Load(), Failed: s.fcm.failed.Load(), Dropped: s.fcm.dropped.Load()}
}

// fcmTarget returns the FCM token to push ev to when ev is an offer
// (TaskReserved) or its withdrawal (TaskRevoked) for an agent with an FCM
// token and no socket here, and whose desk is not connected to another
// cluster node (which serves it); "" otherwise. dispatch.go asks it for
// every event of its one subscription and builds the push in its one View.
func (f *fcmNotifier) fcmTarget(ev routing.Event) (agent, token string) {
	switch e := ev.(type) {
	case routing.TaskReserved:
		agent = e.Agent
	case routing.TaskRevoked:
		agent = e.Agent
	default:
		return "", ""
	}
	token = f.srv.life.fcmToken(agent)
	if token == "" || f.srv.connected(agent) {
		return "", ""
	}
	if d := f.srv.opts.Desks; d != nil && d.Elsewhere(agent) {
		return "", ""
	}
	return agent, token
}

// claimKey names the push of p's event in Options.ClaimPush:
// "fcm.<entry>.<command>.<reserved|revoked>.<task>", equal on every node.
func claimKey(p node.Published) string {
	switch e := p.Event.(type) {
	case routing.TaskReserved:
		return fmt.Sprintf("fcm.%d.%d.reserved.%s", p.Seq, p.Cmd, e.Task)
	case routing.TaskRevoked:
		return fmt.Sprintf("fcm.%d.%d.revoked.%s", p.Seq, p.Cmd, e.Task)
	}
	return ""
}

// claim asks Options.ClaimPush whether this node sends the push named key
// (claimKey). Without ClaimPush or a key, or when the claim fails, it
// sends: a push twice is better than none. It runs on the sender goroutine,
// so a slow claim never holds up dispatch.
func (f *fcmNotifier) claim(key, agent string) bool {
	c := f.srv.opts.ClaimPush
	if c == nil || key == "" {
		return true
	}
	ctx, cancel := f.srv.commandCtx()
	defer cancel()
	mine, err := c(ctx, key)
	if err != nil {
		f.srv.log.Warn("agentdesk: FCM push claim failed; pushing anyway", "agent", agent, "err", err)
		return true
	}
	return mine
}

// push queues the FCM message of a TaskReserved or TaskRevoked; payload is
// its taskRequest or revokeTask (built by dispatch.go); key is its
// claimKey.
func (f *fcmNotifier) push(agent, token, key string, ev routing.Event, payload any) {
	var name, conv, task string
	switch e := ev.(type) {
	case routing.TaskReserved:
		name, conv, task = EventTaskRequest, e.Conversation, e.Task
	case routing.TaskRevoked:
		name, conv, task = EventRevokeTask, e.Conversation, e.Task
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return
	}
	f.enqueue(fcmJob{agent: agent, token: token, claim: key, msg: FCMMessage{Message: FCMMessageBody{
		Token:   token,
		Data:    map[string]string{"event": name, "conversationId": conv, "taskId": task, "payload": string(raw)},
		Android: FCMAndroidConfig{Priority: "high"},
	}}})
}
