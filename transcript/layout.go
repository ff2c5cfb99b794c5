package transcript

import (
	"encoding/binary"
	"errors"
)

// The JetStream store's message layout. One stream message holds the
// records one append made to one conversation, so the server stores (and
// fsyncs) once per conversation and batch instead of once per record:
//
//	byte     layoutBatch (1)
//	uvarint  count: the conversation's entries up to and including this message
//	uvarint  n: entries in the message, 1..MaxEntriesPerMessage
//	n times:
//	  byte     flags (bit 0: AgentsOnly)
//	  uvarint  len(ID), ID
//	  uvarint  len(Data), Data (a JSON object)
//
// Messages of the earlier layout (one entry each: Data as the payload, the
// id and the agents-only mark in headers) start with '{' and are still read.
const (
	layoutBatch    byte = 1
	flagAgentsOnly byte = 1
)

// EntryBits is how far an entry's message sequence is shifted in
// Entry.Seq: Seq = stream sequence << EntryBits | index in the message.
// With 10 bits, Seq stays below 2^53 (exact in JavaScript) up to 2^43
// stream messages.
const EntryBits = 10

// MaxEntriesPerMessage bounds the entries of one stream message; an append
// of more to one conversation takes several messages.
const MaxEntriesPerMessage = 1 << EntryBits

// EntrySeq is the Seq of entry i of the stream message at sequence msg.
func EntrySeq(msg uint64, i int) uint64 { return msg<<EntryBits | uint64(i) }

// messageBudget bounds a message's payload, past which an append splits:
// four entries of the largest size (64 KiB by default). One entry always
// fits, with its framing.
func messageBudget(l Limits) int { return 4 * l.MaxEntryBytes }

// entryFrame bounds an entry's bytes in a message besides its ID and Data.
const entryFrame = 1 + 2*binary.MaxVarintLen32

// chunk returns how many of idx (at least one, at most max) go into the
// next message within budget bytes.
func chunk(recs []Record, idx []int, max, budget int) int {
	size := 0
	for n, i := range idx {
		size += entryFrame + len(recs[i].ID) + len(recs[i].Data)
		if n == max || (n > 0 && size > budget) {
			return n
		}
	}
	return len(idx)
}

// encodeMessage lays out recs[idx...] as one message; count is the
// conversation's entry count through it.
func encodeMessage(count int, recs []Record, idx []int) []byte {
	size := 1 + 2*binary.MaxVarintLen64
	for _, i := range idx {
		size += entryFrame + len(recs[i].ID) + len(recs[i].Data)
	}
	b := make([]byte, 0, size)
	b = append(b, layoutBatch)
	b = binary.AppendUvarint(b, uint64(count))
	b = binary.AppendUvarint(b, uint64(len(idx)))
	for _, i := range idx {
		r := &recs[i]
		var flags byte
		if r.AgentsOnly {
			flags |= flagAgentsOnly
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(len(r.ID)))
		b = append(b, r.ID...)
		b = binary.AppendUvarint(b, uint64(len(r.Data)))
		b = append(b, r.Data...)
	}
	return b
}

// errLayout: a stream message that is neither layout.
var errLayout = errors.New("transcript: stream message of unknown layout")

// messageCount returns the count field of a message of the batch layout
// (ok false for the earlier layout or garbage).
func messageCount(data []byte) (int, bool) {
	if len(data) == 0 || data[0] != layoutBatch {
		return 0, false
	}
	c, n := binary.Uvarint(data[1:])
	if n <= 0 {
		return 0, false
	}
	return int(c), true
}

// decodeMessage calls fn for each entry of a batch-layout message, in
// order, with the entry's index. Data aliases data.
func decodeMessage(data []byte, fn func(i int, id string, agentsOnly bool, body []byte)) error {
	if len(data) == 0 || data[0] != layoutBatch {
		return errLayout
	}
	p := data[1:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	bytesOf := func() ([]byte, bool) {
		l, ok := uv()
		if !ok || l > uint64(len(p)) {
			return nil, false
		}
		out := p[:l:l]
		p = p[l:]
		return out, true
	}
	if _, ok := uv(); !ok {
		return errLayout
	}
	n, ok := uv()
	if !ok || n == 0 || n > MaxEntriesPerMessage {
		return errLayout
	}
	for i := 0; i < int(n); i++ {
		if len(p) == 0 {
			return errLayout
		}
		flags := p[0]
		p = p[1:]
		id, ok := bytesOf()
		if !ok {
			return errLayout
		}
		body, ok := bytesOf()
		if !ok {
			return errLayout
		}
		fn(i, string(id), flags&flagAgentsOnly != 0, body)
	}
	if len(p) != 0 {
		return errLayout
	}
	return nil
}
