// Package transcript keeps the durable transcripts of conversations: the
// CIM messages and CIM events (seed 004 "Emit CIM Events", PROTOCOLS.md
// "CIM message" and "CIM event") exchanged in each conversation.
//
// DESIGN.md ("Domain terms", Conversation): "Its transcript (CIM messages
// and events) lives in its own durable stream, not in the routing journal;
// the engine only keeps participants." The routing engine therefore never
// sees a message: adapters (agentdesk for agents, restapi for the customer
// side) append to a Store through a Log and deliver what the Log publishes.
//
// Two Store implementations pass one acceptance suite (transcripttest.Run):
// Memory, for tests and the e2e fixture, and JetStream, a NATS JetStream
// stream with one subject per conversation, on the connection the routing
// journal uses (embedded server by default).
//
// Durability rule: Log.Append returns, and notifies watchers, only after the
// Store reports the entry durable (for JetStream: the server acknowledged it,
// which with sync_always means fsynced). A message is therefore never
// delivered to anyone before it is in the transcript.
package transcript

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Limits bound what a Store accepts. The zero value of a field selects its
// default.
type Limits struct {
	// MaxEntryBytes bounds one entry's Data (default DefaultMaxEntryBytes).
	MaxEntryBytes int
	// MaxEntriesPerConversation bounds a conversation's transcript (default
	// DefaultMaxEntriesPerConversation); the append after the last one fails
	// with ErrConversationFull and stores nothing.
	MaxEntriesPerConversation int
}

// Defaults and fixed bounds.
const (
	// DefaultMaxEntryBytes: 16 KiB, well under the Socket.IO payload limit
	// of agentdesk (64 KiB), so an oversize CIM event is refused with an
	// errors event rather than a closed connection.
	DefaultMaxEntryBytes = 16 << 10
	// DefaultMaxEntriesPerConversation: 10,000 messages and events.
	DefaultMaxEntriesPerConversation = 10_000
	// MaxConversationIDBytes bounds a conversation id (routing.MaxIDLength).
	MaxConversationIDBytes = 128
	// MaxIDBytes bounds Record.ID.
	MaxIDBytes = 128
)

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxEntryBytes <= 0 {
		l.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if l.MaxEntriesPerConversation <= 0 {
		l.MaxEntriesPerConversation = DefaultMaxEntriesPerConversation
	}
	return l
}

// Errors. A failed Append stored nothing.
var (
	// ErrTooLarge: Data is over Limits.MaxEntryBytes.
	ErrTooLarge = errors.New("transcript: entry too large")
	// ErrConversationFull: the conversation holds MaxEntriesPerConversation entries.
	ErrConversationFull = errors.New("transcript: conversation transcript full")
	// ErrInvalid: empty or over-long conversation id or id, not UTF-8, or
	// Data that is not a JSON object.
	ErrInvalid = errors.New("transcript: invalid record")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("transcript: closed")
)

// Record is what an adapter appends.
type Record struct {
	// Conversation is the conversation id (1..MaxConversationIDBytes, UTF-8).
	Conversation string `json:"conversation"`
	// ID identifies the item within the conversation: the CIM message id
	// (data.id) of a message, the CIM event id otherwise. Used to find the
	// message a reply refers to. 1..MaxIDBytes.
	ID string `json:"id"`
	// AgentsOnly marks an item the customer must never see
	// (WHISPER_MESSAGE, seed 004 "Silent Monitoring").
	AgentsOnly bool `json:"agentsOnly,omitempty"`
	// Data is the CIM event, a JSON object of at most Limits.MaxEntryBytes.
	Data json.RawMessage `json:"data"`
}

// Entry is a stored Record.
type Entry struct {
	Record
	// Seq orders entries: it increases with every append to a
	// conversation, so "after Seq" is a resume cursor for one
	// conversation; entries of separate appends are ordered by Seq across
	// conversations too (not those of one AppendBatch). JetStream: the
	// stream message's sequence << EntryBits | the entry's index in the
	// message. Never 0; below 2^53.
	Seq uint64 `json:"seq"`
	// Time is when the store accepted the entry (UTC).
	Time time.Time `json:"time"`
}

// Store keeps transcripts durably. Implementations are safe for concurrent
// use; entries of one conversation are read back in Seq order.
type Store interface {
	// Append stores rec and returns it with its Seq and Time once it is
	// durable. Errors: ErrInvalid, ErrTooLarge, ErrConversationFull,
	// ErrClosed, ctx's error, or a storage failure (the entry may then
	// exist or not).
	Append(ctx context.Context, rec Record) (Entry, error)
	// Read returns the conversation's entries with Seq > after, oldest
	// first, at most limit of them (limit <= 0: no limit beyond
	// MaxEntriesPerConversation). An unknown conversation has no entries.
	Read(ctx context.Context, conversation string, after uint64, limit int) ([]Entry, error)
	// Close releases the store; it does not close a connection it was given.
	Close() error
}

// BatchStore is a Store that can make several records durable in one
// round (JetStream: every publish sent, then every acknowledgement
// awaited). Log.AppendBatch uses it when the store has it.
type BatchStore interface {
	Store
	// AppendBatch stores recs in order (Seq rises in recs' order within
	// each conversation) and returns one Entry and one error per record
	// (errs[i] nil: entries[i] is durable). Record i's errors are
	// Append's.
	AppendBatch(ctx context.Context, recs []Record) (entries []Entry, errs []error)
}

// Check validates rec against l (l with defaults applied): ErrInvalid or
// ErrTooLarge, wrapped with the reason. Stores call it first.
func Check(rec Record, l Limits) error {
	switch {
	case rec.Conversation == "" || len(rec.Conversation) > MaxConversationIDBytes || !utf8.ValidString(rec.Conversation):
		return fmt.Errorf("%w: conversation id must be UTF-8 of 1..%d bytes", ErrInvalid, MaxConversationIDBytes)
	case rec.ID == "" || len(rec.ID) > MaxIDBytes || !utf8.ValidString(rec.ID):
		return fmt.Errorf("%w: id must be UTF-8 of 1..%d bytes", ErrInvalid, MaxIDBytes)
	case len(rec.Data) > l.MaxEntryBytes:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(rec.Data), l.MaxEntryBytes)
	case len(rec.Data) == 0 || rec.Data[0] != '{' || !json.Valid(rec.Data):
		return fmt.Errorf("%w: data must be a JSON object", ErrInvalid)
	}
	return nil
}
