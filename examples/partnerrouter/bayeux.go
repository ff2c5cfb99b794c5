package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// bayeuxClient is a minimal Bayeux 1.0 long-polling client: enough for
// Salesforce-style streaming (handshake, one subscription with the replay
// extension, connect loop). Not safe for concurrent use.
type bayeuxClient struct {
	url, token string
	http       *http.Client
	clientID   string
}

// message is the part of a Bayeux message this client reads.
type message struct {
	Channel    string          `json:"channel"`
	ClientID   string          `json:"clientId,omitempty"`
	Successful *bool           `json:"successful,omitempty"`
	Error      string          `json:"error,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Advice     *struct {
		Reconnect string `json:"reconnect"`
	} `json:"advice,omitempty"`
}

// post sends msgs as one batch and returns the reply batch.
func (b *bayeuxClient) post(ctx context.Context, msgs ...map[string]any) ([]message, error) {
	body, _ := json.Marshal(msgs)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.token)
	res, err := b.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bayeux: HTTP %d: %s", res.StatusCode, raw)
	}
	var out []message
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("bayeux: reply: %w", err)
	}
	return out, nil
}

// reply returns the reply on channel in out, or an error when it is
// missing or unsuccessful.
func reply(out []message, channel string) (message, error) {
	for _, m := range out {
		if m.Channel == channel && m.Successful != nil {
			if !*m.Successful {
				return m, fmt.Errorf("bayeux: %s refused: %s", channel, m.Error)
			}
			return m, nil
		}
	}
	return message{}, fmt.Errorf("bayeux: no %s reply", channel)
}

// start handshakes and subscribes to channel from replay id replay (-1: new
// events only, n: every event after n).
func (b *bayeuxClient) start(ctx context.Context, channel string, replay int64) error {
	out, err := b.post(ctx, map[string]any{"channel": "/meta/handshake", "version": "1.0",
		"supportedConnectionTypes": []string{"long-polling"}, "ext": map[string]any{"replay": true}})
	if err != nil {
		return err
	}
	hs, err := reply(out, "/meta/handshake")
	if err != nil {
		return err
	}
	b.clientID = hs.ClientID
	out, err = b.post(ctx, map[string]any{"channel": "/meta/subscribe", "clientId": b.clientID, "subscription": channel,
		"ext": map[string]any{"replay": map[string]int64{channel: replay}}})
	if err != nil {
		return err
	}
	_, err = reply(out, "/meta/subscribe")
	return err
}

// connect holds one long poll and returns the data messages it brought.
// rehandshake is true when the server asks for a new handshake (session
// expired, server restarted).
func (b *bayeuxClient) connect(ctx context.Context) (data []message, rehandshake bool, err error) {
	out, err := b.post(ctx, map[string]any{"channel": "/meta/connect", "clientId": b.clientID, "connectionType": "long-polling"})
	if err != nil {
		return nil, false, err
	}
	for _, m := range out {
		switch {
		case m.Channel == "/meta/connect":
			if (m.Successful != nil && !*m.Successful) || (m.Advice != nil && m.Advice.Reconnect == "handshake") {
				rehandshake = true
			}
		case !strings.HasPrefix(m.Channel, "/meta/"):
			data = append(data, m)
		}
	}
	return data, rehandshake, nil
}
