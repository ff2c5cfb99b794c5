package config

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// MaxGMSPushHeaders bounds gmsPush.customHttpHeaders.
const MaxGMSPushHeaders = 32

// GMSPush is the gmsPush section: how GMS notifications reach devices
// (package gms, Options.Pushers). Devices with _device_os "comet" are
// always served, by the CometD endpoint at /genesys/cometd (the dialog's
// _comet_url). "customhttp" is served when CustomHTTPURL is set, as GMS's
// push.customhttp.url option: every notification is POSTed there as
// {"deviceId", "message"} (gms.HTTPPusher). Devices of other OSes (and of
// customhttp without a URL) read retrieve-notifications.
//
//	gmsPush:
//	  customHttpUrl: "https://push.example.com/gms"
//	  customHttpHeaders: {Authorization: "Bearer ..."}
type GMSPush struct {
	// CustomHTTPURL is the http:// or https:// URL receiving customhttp
	// notifications; empty: no customhttp pusher.
	CustomHTTPURL string `json:"customHttpUrl,omitempty" yaml:"customHttpUrl"`
	// CustomHTTPHeaders are added to every customhttp POST (e.g.
	// Authorization); at most MaxGMSPushHeaders.
	CustomHTTPHeaders map[string]string `json:"customHttpHeaders,omitempty" yaml:"customHttpHeaders"`
}

// Header returns CustomHTTPHeaders as an http.Header (nil when empty).
func (g GMSPush) Header() http.Header {
	if len(g.CustomHTTPHeaders) == 0 {
		return nil
	}
	h := make(http.Header, len(g.CustomHTTPHeaders))
	for k, v := range g.CustomHTTPHeaders {
		h.Set(k, v)
	}
	return h
}

func (g GMSPush) validate(p *problems) {
	const w = "gmsPush"
	if g.CustomHTTPURL != "" {
		u, err := url.Parse(g.CustomHTTPURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.addf(w, "customHttpUrl %q is not an http:// or https:// URL", g.CustomHTTPURL)
		}
	}
	if len(g.CustomHTTPHeaders) > 0 && g.CustomHTTPURL == "" {
		p.addf(w, "customHttpHeaders is set but customHttpUrl is not")
	}
	if len(g.CustomHTTPHeaders) > MaxGMSPushHeaders {
		p.addf(w, "customHttpHeaders has %d entries, more than the limit of %d", len(g.CustomHTTPHeaders), MaxGMSPushHeaders)
	}
	for _, k := range slices.Sorted(maps.Keys(g.CustomHTTPHeaders)) {
		if !validHeaderName(k) {
			p.addf(w, "customHttpHeaders: %q is not a valid header name", k)
		}
		if strings.ContainsAny(g.CustomHTTPHeaders[k], "\r\n\x00") {
			p.addf(w, "customHttpHeaders: the value of %q contains a line break or NUL", k)
		}
	}
}

// validHeaderName reports whether k is an HTTP token (RFC 9110 section 5.6.2).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}
