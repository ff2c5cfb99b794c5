package transcript

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is a Store in memory: nothing survives the process. For tests and
// the e2e fixture. Use NewMemory.
type Memory struct {
	limits Limits
	now    func() time.Time

	mu     sync.Mutex
	seq    uint64
	convs  map[string][]Entry
	closed bool
}

var _ BatchStore = (*Memory)(nil)

// NewMemory returns an empty Memory store with limits l (defaults filled in).
func NewMemory(l Limits) *Memory {
	return &Memory{limits: l.WithDefaults(), now: time.Now, convs: map[string][]Entry{}}
}

// Append implements Store.
func (m *Memory) Append(ctx context.Context, rec Record) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	if err := Check(rec, m.limits); err != nil {
		return Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Entry{}, ErrClosed
	}
	list := m.convs[rec.Conversation]
	if len(list) >= m.limits.MaxEntriesPerConversation {
		return Entry{}, ErrConversationFull
	}
	m.seq++
	rec.Data = slices.Clone(rec.Data)
	e := Entry{Record: rec, Seq: m.seq, Time: m.now().UTC()}
	m.convs[rec.Conversation] = append(list, e)
	return e, nil
}

// AppendBatch implements BatchStore: the records one after the other.
func (m *Memory) AppendBatch(ctx context.Context, recs []Record) ([]Entry, []error) {
	entries, errs := make([]Entry, len(recs)), make([]error, len(recs))
	for i, r := range recs {
		entries[i], errs[i] = m.Append(ctx, r)
	}
	return entries, errs
}

// Read implements Store.
func (m *Memory) Read(ctx context.Context, conversation string, after uint64, limit int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	list := m.convs[conversation]
	i, _ := slices.BinarySearchFunc(list, after+1, func(e Entry, seq uint64) int {
		switch {
		case e.Seq < seq:
			return -1
		case e.Seq > seq:
			return 1
		}
		return 0
	})
	list = list[i:]
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	// Entries are never changed after append; the slice is a copy so the
	// caller may append to it.
	return slices.Clone(list), nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
