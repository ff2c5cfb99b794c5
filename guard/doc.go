// Package guard is what stands in front of authentication on omniroute's
// HTTP listener: the client's address behind trusted reverse proxies, the
// read, write and idle timeouts (with the long-lived routes, SSE, websocket
// and long-poll, excepted on purpose), and per-address and per-user rate
// limits and backoff (golang.org/x/time/rate). Every limit is a named
// constant with its default and an Options field; docs/SECURITY.md lists
// them all.
package guard
