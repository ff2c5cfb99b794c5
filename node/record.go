package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/routing"
)

// A journal entry holds one batch: a JSON array of records, one per
// accepted command, each with the time the node stamped on it. Replaying the
// records through routing.State.Apply rebuilds the state exactly.
//
//	[{"n":"CreateConversation","t":1700000000000000000,"c":{...}}, ...]
type record struct {
	// Name is the command name (routing.Command.CommandName).
	Name string `json:"n"`
	// At is the command's time, Unix nanoseconds UTC.
	At int64 `json:"t"`
	// Cmd is the command body (routing.EncodeCommand).
	Cmd json.RawMessage `json:"c"`
	// ID is the command id in cluster mode (absent otherwise): every node
	// that applies the record remembers it, so a command retried after a
	// failover is applied once (see Replica).
	ID string `json:"i,omitempty"`
}

// MaxRecordsPerEntry bounds how many commands one journal entry may hold.
const MaxRecordsPerEntry = 65536

// Replayed is one command decoded from the journal.
type Replayed struct {
	At  time.Time
	Cmd routing.Command
	// ID is the command id given in cluster mode, "" otherwise.
	ID string
}

func encodeRecord(cmd routing.Command, at time.Time, id string) ([]byte, error) {
	body, err := routing.EncodeCommand(cmd)
	if err != nil {
		return nil, err
	}
	return json.Marshal(record{Name: cmd.CommandName(), At: at.UnixNano(), Cmd: body, ID: id})
}

// appendEntry joins encoded records into one entry.
func appendEntry(dst []byte, recs [][]byte) []byte {
	dst = append(dst, '[')
	for i, r := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, r...)
	}
	return append(dst, ']')
}

// DecodeEntry decodes one journal entry into its commands. Errors name the
// record that could not be decoded.
func DecodeEntry(data []byte) ([]Replayed, error) {
	var recs []record
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&recs); err != nil {
		return nil, fmt.Errorf("node: journal entry: %w", err)
	}
	if dec.More() {
		return nil, errors.New("node: journal entry: trailing data")
	}
	if len(recs) > MaxRecordsPerEntry {
		return nil, fmt.Errorf("node: journal entry: %d records, more than %d", len(recs), MaxRecordsPerEntry)
	}
	out := make([]Replayed, 0, len(recs))
	for i, r := range recs {
		cmd, err := routing.DecodeCommand(r.Name, r.Cmd)
		if err != nil {
			return nil, fmt.Errorf("node: journal entry record %d: %w", i, err)
		}
		out = append(out, Replayed{At: time.Unix(0, r.At).UTC(), Cmd: cmd, ID: r.ID})
	}
	return out, nil
}

func journalSnapshot(seq uint64, data []byte) journal.Snapshot {
	return journal.Snapshot{Seq: seq, Data: data}
}
