package guard

import (
	"net/http"
	"slices"
	"strings"
)

// Browser-facing headers set on every response that did not set its own.
const (
	// DefaultCSP is the Content-Security-Policy of every page and API
	// answer: only the server's own scripts, styles, images and
	// connections, no plugins, never framed. Inline styles are allowed for
	// the vendored chart code; inline scripts are not.
	DefaultCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	// ReferrerPolicy keeps URLs (conversation and callback ids) out of
	// other sites' logs.
	ReferrerPolicy = "no-referrer"
)

// Browser configures Headers.
type Browser struct {
	// AllowedOrigins may call the server cross-origin (CORS): exact
	// origins, "scheme://host[:port]". Others get no CORS headers, and a
	// preflight from them is 403.
	AllowedOrigins []string
	// Frameable are the paths (exact) that the FrameAncestors may embed
	// in a frame (the CRM connector page, seed 002).
	Frameable []string
	// FrameAncestors are the origins allowed to frame Frameable paths.
	FrameAncestors []string
}

// Headers sets, on each response of h, X-Content-Type-Options: nosniff,
// Referrer-Policy and a Content-Security-Policy (DefaultCSP, with
// frame-ancestors opened to FrameAncestors on Frameable paths) unless the
// handler set its own; and answers CORS for AllowedOrigins. Routes that do
// their own CORS (Socket.IO) are passed through by the caller.
func (b Browser) Headers(h http.Handler) http.Handler {
	frameCSP := DefaultCSP
	if len(b.FrameAncestors) > 0 {
		frameCSP = strings.Replace(DefaultCSP, "frame-ancestors 'none'", "frame-ancestors "+strings.Join(b.FrameAncestors, " "), 1)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		csp := DefaultCSP
		if slices.Contains(b.Frameable, r.URL.Path) {
			csp = frameCSP
		}
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", ReferrerPolicy)
		hd.Set("Content-Security-Policy", csp)
		if origin := r.Header.Get("Origin"); origin != "" {
			allowed := b.originAllowed(origin)
			if allowed {
				hd.Set("Access-Control-Allow-Origin", origin)
				hd.Set("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate")
			}
			hd.Add("Vary", "Origin")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				if !allowed {
					http.Error(w, "origin not allowed", http.StatusForbidden)
					return
				}
				hd.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
				hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, gms_user")
				hd.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (b Browser) originAllowed(origin string) bool {
	return slices.ContainsFunc(b.AllowedOrigins, func(o string) bool { return strings.EqualFold(o, origin) })
}
