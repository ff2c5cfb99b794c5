// Package conversation is the one home of what happens inside a
// conversation once it exists: its CIM messages and events (seed 004 "Emit
// CIM Events", "Reply to a Specific Message"; PROTOCOLS.md "CIM message",
// "CIM event"), who may publish and see what (agent, conference,
// supervisors who monitor, whisper or barge in, the customer), the
// customer side (messages, the event stream, customer-left) and the access
// to the durable transcript (package transcript).
//
// The routing engine keeps only a conversation's participants (DESIGN.md
// "Domain terms", Conversation); messages never reach the journal. Every
// adapter goes through a *Conversations: agentdesk for the agents'
// publishCimEvent, onCimEvent and onTopicData, restapi and webui for the
// customer, gms for the notifications it brings to the agent desk.
//
// # Durability and delivery
//
// Every CIM event, whoever produced it (an agent, the customer, or the
// engine's events turned into system events by the Conversations' own
// node subscription), is appended to the conversation's transcript first
// and reaches anyone only once the append is durable: the agent side
// follows Watch and delivers each entry to Recipients; the customer side
// replays and follows the transcript in CustomerEvents.
//
// # Who may publish and see what
//
// The rule lives in rules.go (MayPublish, Recipients, CustomerSees) and nowhere else:
//
//   - A participant is an agent with an ACTIVE task on the conversation
//     (PRIMARY or CONFERENCE) or a supervisor who joined it (SILENT_MONITOR,
//     WHISPER, BARGE_IN). Only participants of an OPEN conversation publish.
//   - A SILENT_MONITOR or WHISPER supervisor publishes only WHISPER_MESSAGE
//     (seed 004 "Silent Monitoring"); BARGE_IN speaks like an agent.
//   - Every participant sees every entry. The customer never sees the
//     AgentsOnly entries: whispers, the events about supervisors (who
//     monitors is not the customer's business), and notifications other
//     adapters mark for the agents (PublishAgentEvent).
//   - The customer publishes CUSTOMER_MESSAGE while the conversation is open
//     and it has not left; the names the server produces (AGENT_SUBSCRIBED,
//     CUSTOMER_MESSAGE, ...) come from no one else.
package conversation
