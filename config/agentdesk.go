package config

import (
	"math"
	"time"
)

// Limits of the agentDesk section.
const (
	// DefaultMaxMessageBytes is agentDesk.maxMessageBytes when absent or 0:
	// 1 MiB, socket.io's own server default (maxHttpBufferSize 1e6 rounded
	// to a binary megabyte), so a desk that works against socket.io works
	// here.
	DefaultMaxMessageBytes = 1 << 20
	// MinMaxMessageBytes and MaxMaxMessageBytes bound agentDesk.maxMessageBytes:
	// below 16 KiB a full transcript's events no longer fit; above 64 MiB one
	// socket could hold that much memory per message.
	MinMaxMessageBytes = 16 << 10
	MaxMaxMessageBytes = 64 << 20
)

// AgentDesk is the agentDesk section: the Agent Desk Socket.IO endpoint
// (package agentdesk, seed 004).
type AgentDesk struct {
	// MaxMessageBytes bounds one Socket.IO message (one Engine.IO packet,
	// a WebSocket frame or a long-polling request body), in bytes
	// (MinMaxMessageBytes..MaxMaxMessageBytes; 0: DefaultMaxMessageBytes).
	// A client that sends more is disconnected, as socket.io's server does
	// over maxHttpBufferSize; the limits of single fields (agentdesk/doc.go)
	// are far below it and are refused with an errors event instead.
	MaxMessageBytes int64 `json:"maxMessageBytes,omitempty" yaml:"maxMessageBytes"`
	// MaxConnections bounds the desk connections (Engine.IO sessions) of
	// the server (0: agentdesk.DefaultMaxConnections, 20,000); a handshake
	// over it is refused "too many connections". Each connection is one
	// file descriptor: keep the process's open-files limit (ulimit -n)
	// above it plus a few hundred.
	MaxConnections int `json:"maxConnections,omitempty" yaml:"maxConnections"`
	// MaxPendingPerAddress bounds the connections of one client address
	// that have not authenticated yet (0: 256); more are refused with HTTP
	// 429. Behind a proxy every desk shares the proxy's address: raise it.
	MaxPendingPerAddress int `json:"maxPendingPerAddress,omitempty" yaml:"maxPendingPerAddress"`
	// MaxSocketsPerAgent bounds the sockets of one agent (0: 8).
	MaxSocketsPerAgent int `json:"maxSocketsPerAgent,omitempty" yaml:"maxSocketsPerAgent"`
	// MaxEventsPerSecond bounds the events one socket may send (0: 50,
	// burst twice that).
	MaxEventsPerSecond float64 `json:"maxEventsPerSecond,omitempty" yaml:"maxEventsPerSecond"`
	// DisconnectGraceSeconds is how long, in seconds, an agent may have
	// no desk socket before it is made NOT_READY with reason DISCONNECTED
	// and its offers are routed again (0..MaxDisconnectGraceSeconds; 0:
	// agentdesk.DefaultDisconnectGrace, 30 s). A desk that reconnects
	// within it keeps its state and offers.
	DisconnectGraceSeconds float64 `json:"disconnectGraceSeconds,omitempty" yaml:"disconnectGraceSeconds"`
}

// MaxDisconnectGraceSeconds bounds agentDesk.disconnectGraceSeconds: an
// hour (an agent gone longer still holds offers nobody answers).
const MaxDisconnectGraceSeconds = 3600

// DisconnectGrace is DisconnectGraceSeconds as a duration (0: the desk's
// default).
func (a AgentDesk) DisconnectGrace() time.Duration { return Seconds(a.DisconnectGraceSeconds) }

// MaxConnectionsLimit bounds agentDesk.maxConnections: past it one node's
// memory and file descriptors run out long before (BENCHMARKS.md, issue 14).
const MaxConnectionsLimit = 1_000_000

// MessageBytes is MaxMessageBytes with its default applied.
func (a AgentDesk) MessageBytes() int64 {
	if a.MaxMessageBytes == 0 {
		return DefaultMaxMessageBytes
	}
	return a.MaxMessageBytes
}

func (a AgentDesk) validate(p *problems) {
	if m := a.MaxMessageBytes; m != 0 && (m < MinMaxMessageBytes || m > MaxMaxMessageBytes) {
		p.addf("agentDesk.maxMessageBytes", "%d must be %d..%d (bytes) or absent for %d", m, MinMaxMessageBytes, MaxMaxMessageBytes, DefaultMaxMessageBytes)
	}
	if m := a.MaxConnections; m < 0 || m > MaxConnectionsLimit {
		p.addf("agentDesk.maxConnections", "%d must be 1..%d or absent for the default", m, MaxConnectionsLimit)
	}
	if m := a.MaxPendingPerAddress; m < 0 || m > MaxConnectionsLimit {
		p.addf("agentDesk.maxPendingPerAddress", "%d must be 1..%d or absent for the default", m, MaxConnectionsLimit)
	}
	if m := a.MaxSocketsPerAgent; m < 0 || m > 1000 {
		p.addf("agentDesk.maxSocketsPerAgent", "%d must be 1..1000 or absent for the default", m)
	}
	if g := a.DisconnectGraceSeconds; math.IsNaN(g) || g < 0 || g > MaxDisconnectGraceSeconds {
		p.addf("agentDesk.disconnectGraceSeconds", "%s must be 0..%d (seconds; 0: the default of 30)", fmtSeconds(g), MaxDisconnectGraceSeconds)
	}
	if m := a.MaxEventsPerSecond; m < 0 || m > 100_000 {
		p.addf("agentDesk.maxEventsPerSecond", "%v must be above 0 and at most 100000, or absent for the default", m)
	}
}
