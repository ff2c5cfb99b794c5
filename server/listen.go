package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/examples"
	"github.com/omniroute/omniroute/guard"
)

// ErrDemoCredentials is returned by Start when the configuration holds the
// credentials published in examples/omniroute.yaml, the listener is not
// loopback and Options.Demo is false: anyone who has read the example could
// log in as admin.
var ErrDemoCredentials = errors.New("server: refusing to serve the published demo credentials on a non-loopback address")

// listen opens the listener (TLS when configured) and settles the public
// URL and the trusted proxies, refusing demo credentials where they would be
// reachable from other machines.
func (s *Server) listen(o Options) error {
	c := o.Config
	certFile, keyFile := pick(o.TLSCertFile, c.Server.TLSCertFile), pick(o.TLSKeyFile, c.Server.TLSKeyFile)
	if (certFile == "") != (keyFile == "") {
		return errors.New("server: a TLS certificate needs its key and a key its certificate (--tls-cert and --tls-key)")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("server: TLS: %w", err)
		}
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	var prefixes []netip.Prefix
	for _, tp := range c.Server.TrustedProxies {
		p, err := config.ParsePrefix(tp)
		if err != nil {
			return fmt.Errorf("server: trustedProxies: %w", err)
		}
		prefixes = append(prefixes, p)
	}
	s.proxies = guard.NewProxies(prefixes)
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	s.listener = ln
	if secrets := demoSecrets(c); len(secrets) > 0 && !o.Demo && !isLoopback(ln.Addr()) {
		return fmt.Errorf("%w (%s): %s are published in examples/omniroute.yaml; "+
			"put your own secrets in the config, listen on 127.0.0.1, or pass --demo to accept the risk",
			ErrDemoCredentials, ln.Addr(), strings.Join(secrets, ", "))
	}
	s.publicURL = strings.TrimRight(pick(o.PublicURL, c.Server.PublicURL), "/")
	if s.publicURL != "" {
		if err := config.CheckPublicURL(s.publicURL); err != nil {
			return fmt.Errorf("server: public URL: %w", err)
		}
	} else {
		s.publicURL = s.URL()
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
			o.Logger.Warn("server: server.publicUrl is not set and the listener has no single address; " +
				"GMS dialog URLs will name " + s.publicURL + ": set server.publicUrl (or --public-url)")
		}
	}
	s.browser = browserPolicy(c, s.URL(), s.publicURL)
	return nil
}

// browserPolicy is the CORS allowlist (server.corsOrigins, the server's own
// origins, which its pages and the desk's websocket send, and the origins
// of the presence-sync CRM partners) and
// who may frame the CRM connector page (the presence-sync partners'
// origins, seed 002).
func browserPolicy(c *config.Config, own ...string) guard.Browser {
	b := guard.Browser{Frameable: []string{"/presencesync/crm/connector.html"}}
	for _, o := range append(append([]string(nil), c.Server.CORSOrigins...), own...) {
		if o = strings.TrimRight(o, "/"); o != "" && !slices.Contains(b.AllowedOrigins, o) {
			b.AllowedOrigins = append(b.AllowedOrigins, o)
		}
	}
	for _, p := range c.PresenceSync.Partners {
		for _, o := range p.Origins {
			if !slices.Contains(b.FrameAncestors, o) {
				b.FrameAncestors = append(b.FrameAncestors, o)
			}
			// A CRM page logs its agent in from the browser (POST
			// /agent-manager/agent/login) to get the connector's token.
			if p.Kind == config.PresenceCRM && !slices.Contains(b.AllowedOrigins, o) {
				b.AllowedOrigins = append(b.AllowedOrigins, o)
			}
		}
	}
	return b
}

func pick(flag, file string) string {
	if flag != "" {
		return flag
	}
	return file
}

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

// demoSecrets names the credentials of c that are also in the published
// example configuration: admin and partner tokens, the token secret, and
// agents' password hashes (the example's passwords are "<id>-pass").
func demoSecrets(c *config.Config) []string {
	ex, err := config.Parse(examples.Config)
	if err != nil {
		return nil // the example is tested to parse
	}
	var out []string
	for _, t := range c.Auth.AdminTokens {
		if slices.Contains(ex.Auth.AdminTokens, t) {
			out = append(out, "admin token "+t)
		}
	}
	if c.Auth.TokenSecret != "" && c.Auth.TokenSecret == ex.Auth.TokenSecret {
		out = append(out, "auth.tokenSecret")
	}
	for _, p := range c.Partners {
		for _, e := range ex.Partners {
			if p.Token == e.Token {
				out = append(out, "partner token of "+p.ID)
			}
		}
	}
	hashes := map[string]string{}
	for _, a := range ex.Agents {
		if a.PasswordHash != "" {
			hashes[a.PasswordHash] = a.ID
		}
	}
	for _, a := range c.Agents {
		if id, ok := hashes[a.PasswordHash]; ok && a.PasswordHash != "" {
			out = append(out, fmt.Sprintf("the password of %s (%s-pass)", a.Username, id))
		}
	}
	return out
}
