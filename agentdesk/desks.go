package agentdesk

import (
	"context"
	"time"
)

// DeskDirectory is a cluster's shared record of the agents' desks
// (cluster.Desks, a JetStream KV bucket): where each agent's desk is
// connected and the FCM token it registered. With it (Options.Desks):
//
//   - the FCM push of an agent with no socket is sent by any live node, not
//     only by the node its desk registered the token on (one node sends
//     it: Options.ClaimPush, claimed per journal entry, event and task);
//   - no node pushes to, or disconnects after the grace period, an agent
//     whose desk is connected to another live node.
type DeskDirectory interface {
	// Token is the agent's FCM token as the cluster knows it ("" none).
	Token(agent string) string
	// Elsewhere reports whether the agent's desk is connected to another
	// live node.
	Elsewhere(agent string) bool
	// Connected records that the agent has a socket on this node (token ""
	// keeps the known one); Gone that its last socket here went; Forget
	// drops a token FCM refused as unregistered.
	Connected(ctx context.Context, agent, token string) error
	Gone(ctx context.Context, agent string) error
	Forget(ctx context.Context, agent, token string) error
}

// deskWriteTimeout bounds one write of the desk directory.
const deskWriteTimeout = 5 * time.Second
