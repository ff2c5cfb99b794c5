package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// psr is the part of a PendingServiceRouting the router uses (Salesforce
// field names, as in the streaming sobject and GET /v1/pending-service-routing).
type psr struct {
	ID                       string   `json:"Id"`
	WorkItemID               string   `json:"WorkItemId"`
	ServiceChannelID         string   `json:"ServiceChannelId"`
	IsPushed                 bool     `json:"IsPushed"`
	LastDeclinedAgentSession *string  `json:"LastDeclinedAgentSession"`
	ExcludedUserIDs          []string `json:"ExcludedUserIds"`
}

// event is a streaming message's data.
type event struct {
	Event struct {
		Type     string `json:"type"`
		ReplayID int64  `json:"replayId"`
	} `json:"event"`
	SObject psr `json:"sobject"`
}

// agentState is the part of GET /v1/agents/{id}/state the router reads.
type agentState struct {
	State string `json:"state"`
	MRDs  []struct {
		MRD struct {
			ID string `json:"id"`
		} `json:"mrd"`
		State     string    `json:"state"`
		Since     time.Time `json:"stateChangeTime"`
		LastReady time.Time `json:"lastReadyStateChangeTime"`
		Load      int       `json:"load"`
		Capacity  int       `json:"capacity"`
	} `json:"agentMrdStates"`
}

type router struct {
	c Config

	mu       sync.Mutex
	psrs     map[string]*psr
	pushedTo map[string][]string // PSR id -> agents this router pushed it to
	assigned int                 // AgentWork records created (for tests and logs)
}

// run routes until ctx ends. Errors: the first handshake or subscription
// fails (bad token, server down); later failures are retried.
func run(ctx context.Context, c Config) error {
	if c.APIVersion == "" {
		c.APIVersion = "60.0"
	}
	if c.Topic == "" {
		c.Topic = "PendingServiceRoutingTopic"
	}
	if c.Sweep <= 0 {
		c.Sweep = time.Second
	}
	if c.Client == nil {
		jar, _ := cookiejar.New(nil)
		c.Client = &http.Client{Jar: jar, Timeout: 70 * time.Second}
	}
	if c.Logf == nil {
		c.Logf = log.Printf
	}
	c.Server = strings.TrimRight(c.Server, "/")
	r := &router{c: c, psrs: map[string]*psr{}, pushedTo: map[string][]string{}}
	bx := &bayeuxClient{url: c.Server + "/cometd/" + c.APIVersion, token: c.Token, http: c.Client}
	channel := "/topic/" + c.Topic
	if err := bx.start(ctx, channel, -1); err != nil {
		return err
	}
	if err := r.loadOpen(ctx); err != nil {
		return err
	}
	go r.sweep(ctx)
	if c.Ready != nil {
		c.Ready()
	}
	var last int64 = -1 // last replayId seen, to resume after a re-handshake
	for ctx.Err() == nil {
		msgs, rehandshake, err := bx.connect(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.Logf("partnerrouter: connect: %v", err)
				sleep(ctx, time.Second)
			}
			rehandshake = true
		}
		for _, m := range msgs {
			var ev event
			if m.Channel != channel || json.Unmarshal(m.Data, &ev) != nil {
				continue
			}
			last = max(last, ev.Event.ReplayID)
			r.onEvent(ctx, ev)
		}
		if rehandshake && ctx.Err() == nil {
			if err := bx.start(ctx, channel, last); err != nil {
				// The replay id may have aged out: start afresh and re-read
				// the open PSRs instead.
				c.Logf("partnerrouter: resubscribe from %d: %v", last, err)
				if err := bx.start(ctx, channel, -1); err == nil {
					_ = r.loadOpen(ctx)
				}
			}
		}
	}
	return ctx.Err()
}

// loadOpen stores every open PSR and routes the unpushed ones.
func (r *router) loadOpen(ctx context.Context) error {
	var list struct {
		Items []psr `json:"items"`
	}
	if err := r.get(ctx, "/v1/pending-service-routing", r.c.Token, &list); err != nil {
		return err
	}
	for _, p := range list.Items {
		r.onEvent(ctx, event{SObject: p})
	}
	return nil
}

// onEvent applies one PSR event and routes the PSR when it waits.
func (r *router) onEvent(ctx context.Context, ev event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := ev.SObject
	if ev.Event.Type == "deleted" {
		delete(r.psrs, p.ID)
		delete(r.pushedTo, p.ID)
		return
	}
	r.psrs[p.ID] = &p
	if !p.IsPushed {
		r.route(ctx, &p)
	}
}

// sweep retries every unpushed PSR each Sweep interval.
func (r *router) sweep(ctx context.Context) {
	t := time.NewTicker(r.c.Sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		for _, p := range r.psrs {
			if !p.IsPushed {
				r.route(ctx, p)
			}
		}
		r.mu.Unlock()
	}
}

// route picks an agent for p and creates the AgentWork (r.mu held).
func (r *router) route(ctx context.Context, p *psr) {
	excluded := slices.Clone(r.pushedTo[p.ID])
	if p.LastDeclinedAgentSession != nil || len(excluded) > 0 {
		var cur psr
		if err := r.get(ctx, "/v1/pending-service-routing/"+url.PathEscape(p.ID), r.c.Token, &cur); err == nil {
			excluded = append(excluded, cur.ExcludedUserIDs...)
		}
	}
	for _, agent := range r.candidates(ctx, p.ServiceChannelID, excluded) {
		body := map[string]string{"pendingServiceRoutingId": p.ID, "userId": agent,
			"workItemId": p.WorkItemID, "serviceChannelId": p.ServiceChannelID}
		status, err := r.send(ctx, http.MethodPost, "/v1/agent-work", r.c.Token, body, nil)
		switch {
		case status == http.StatusCreated:
			p.IsPushed = true
			r.pushedTo[p.ID] = append(r.pushedTo[p.ID], agent)
			r.assigned++
			return
		case status == http.StatusConflict && err != nil && strings.Contains(err.Error(), "INVALID_TRANSITION"):
			p.IsPushed = true // already pushed (our own earlier create): wait for the update
			return
		case status == http.StatusConflict:
			continue // the agent is no longer free: next candidate
		default:
			r.c.Logf("partnerrouter: AgentWork for %s: %d %v", p.ID, status, err)
			return
		}
	}
}

// candidates returns the eligible agents for channel, longest idle first.
func (r *router) candidates(ctx context.Context, channel string, excluded []string) []string {
	var agents struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := r.get(ctx, "/v1/agents", r.c.AdminToken, &agents); err != nil {
		r.c.Logf("partnerrouter: agents: %v", err)
		return nil
	}
	type cand struct {
		id   string
		load int
		idle time.Time
	}
	var cs []cand
	for _, a := range agents.Items {
		if slices.Contains(excluded, a.ID) {
			continue
		}
		var st agentState
		if r.get(ctx, "/v1/agents/"+url.PathEscape(a.ID)+"/state", r.c.AdminToken, &st) != nil || st.State != "READY" {
			continue
		}
		for _, m := range st.MRDs {
			if m.MRD.ID == channel && (m.State == "READY" || m.State == "ACTIVE") && m.Load < m.Capacity {
				idle := m.LastReady
				if idle.IsZero() {
					idle = m.Since
				}
				cs = append(cs, cand{a.ID, m.Load, idle})
			}
		}
	}
	slices.SortFunc(cs, func(x, y cand) int {
		if x.load != y.load {
			return x.load - y.load
		}
		return x.idle.Compare(y.idle)
	})
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	return out
}

func (r *router) get(ctx context.Context, path, token string, out any) error {
	status, err := r.send(ctx, http.MethodGet, path, token, nil, out)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET %s: HTTP %d", path, status)
	}
	return err
}

// send does one native API call; a non-2xx answer is returned as an error
// carrying the {"error":{"code","message"}} body.
func (r *router) send(ctx context.Context, method, path, token string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.c.Server+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := r.c.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if res.StatusCode/100 != 2 {
		return res.StatusCode, fmt.Errorf("%s %s: HTTP %d: %s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		return res.StatusCode, json.Unmarshal(raw, out)
	}
	return res.StatusCode, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
