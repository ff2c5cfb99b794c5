package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// MaxTrustedProxies bounds server.trustedProxies.
const MaxTrustedProxies = 64

// CheckPublicURL checks a server.publicUrl (or --public-url): an absolute
// http:// or https:// URL with a host and neither path (beyond "/"), query,
// fragment nor user info, since the server appends its own paths to it.
func CheckPublicURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %v", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must start with https:// or http://", s)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%q must be scheme://host[:port] only, without path, query or user", s)
	}
	return nil
}

// ParsePrefix reads one trusted proxy: an IP address ("10.1.2.3", "::1") or
// a CIDR block ("10.0.0.0/8").
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR block: %v", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR block", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
