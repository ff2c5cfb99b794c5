package guard

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the trusted reverse proxies (config server.trustedProxies).
// The zero value trusts nobody: X-Forwarded-* headers are ignored and the
// client is the TCP peer.
type Proxies struct {
	prefixes []netip.Prefix
}

// NewProxies trusts the given blocks.
func NewProxies(prefixes []netip.Prefix) Proxies {
	return Proxies{prefixes: append([]netip.Prefix(nil), prefixes...)}
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pf := range p.prefixes {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// MaxForwardedHops bounds how many X-Forwarded-For entries ClientAddr
// walks; a longer chain is cut at that many (from the right).
const MaxForwardedHops = 16

// PeerAddr is the TCP peer of r (r.RemoteAddr), the zero Addr when it does
// not parse.
func PeerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// ClientAddr is the address of the client that made r: the TCP peer, or,
// when the peer is a trusted proxy, the right-most X-Forwarded-For entry
// that is not a trusted proxy (entries to the left of it could have been
// written by the client itself, so they are never believed).
func (p Proxies) ClientAddr(r *http.Request) netip.Addr {
	peer := PeerAddr(r)
	if !p.trusted(peer) {
		return peer
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	client := peer
	for i := len(hops) - 1; i >= 0 && len(hops)-i <= MaxForwardedHops; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break // garbage: the proxy before it is the last we can name
		}
		client = a.Unmap()
		if !p.trusted(client) {
			break
		}
	}
	return client
}

// forwardedFor splits the X-Forwarded-For header lines into entries, in
// order.
func forwardedFor(lines []string) []string {
	var out []string
	for _, l := range lines {
		for e := range strings.SplitSeq(l, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// Scheme is "https" when r came over TLS, or through a trusted proxy that
// says X-Forwarded-Proto: https; otherwise "http".
func (p Proxies) Scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if p.trusted(PeerAddr(r)) && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https") {
		return "https"
	}
	return "http"
}

// Handler rewrites r.RemoteAddr to ClientAddr (port 0 when it came from a
// header), so every handler behind it, logs and per-address limits
// included, sees the client rather than the proxy. Forwarded headers from
// an untrusted peer are removed, so no handler can be fooled by them.
func (p Proxies) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := PeerAddr(r)
		if !p.trusted(peer) {
			if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Forwarded-Proto") != "" || r.Header.Get("X-Forwarded-Host") != "" {
				r = r.Clone(r.Context())
				r.Header.Del("X-Forwarded-For")
				r.Header.Del("X-Forwarded-Proto")
				r.Header.Del("X-Forwarded-Host")
			}
			h.ServeHTTP(w, r)
			return
		}
		client := p.ClientAddr(r)
		if client != peer {
			r = r.Clone(r.Context())
			r.RemoteAddr = netip.AddrPortFrom(client, 0).String()
		}
		h.ServeHTTP(w, r)
	})
}
