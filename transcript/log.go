package transcript

import (
	"context"
	"sync"
)

// DefaultWatchBuffer is a watcher's channel size when Watch is given 0.
const DefaultWatchBuffer = 4096

// maxIndexed bounds the conversations whose message ids Log keeps in memory
// (for Contains); past it, an arbitrary one is forgotten and reloaded from
// the store when needed again.
const maxIndexed = 10_000

// Log is the front of a Store that adapters share: it serializes appends
// per conversation, tells watchers about every entry once it is durable,
// and answers whether a conversation holds an id (the target of a reply).
// Safe for concurrent use. Create with NewLog.
type Log struct {
	store Store

	mu       sync.Mutex
	locks    map[string]*convLock
	watchers map[*watcher]struct{}
	index    map[string]map[string]struct{} // conversation -> ids, when loaded
}

type convLock struct {
	mu   sync.Mutex
	refs int
}

type watcher struct {
	conversation string // "" = every conversation
	ch           chan Entry
	closed       bool
}

// NewLog returns a Log over store; Close closes store.
func NewLog(store Store) *Log {
	return &Log{store: store, locks: map[string]*convLock{}, watchers: map[*watcher]struct{}{},
		index: map[string]map[string]struct{}{}}
}

// Store returns the underlying store.
func (l *Log) Store() Store { return l.store }

func (l *Log) lock(conv string) *convLock {
	l.mu.Lock()
	c := l.locks[conv]
	if c == nil {
		c = &convLock{}
		l.locks[conv] = c
	}
	c.refs++
	l.mu.Unlock()
	c.mu.Lock()
	return c
}

func (l *Log) unlock(conv string, c *convLock) {
	c.mu.Unlock()
	l.mu.Lock()
	if c.refs--; c.refs == 0 {
		delete(l.locks, conv)
	}
	l.mu.Unlock()
}

// Append stores rec (Store.Append) and then, still in per-conversation
// order, hands the entry to every watcher of its conversation and of all
// conversations. Appends to one conversation are serialized so watchers see
// its entries in Seq order; appends to different conversations run in
// parallel. Errors are the store's; on error nobody is notified.
func (l *Log) Append(ctx context.Context, rec Record) (Entry, error) {
	c := l.lock(rec.Conversation)
	defer l.unlock(rec.Conversation, c)
	e, err := l.store.Append(ctx, rec)
	if err != nil {
		return e, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ids := l.index[rec.Conversation]; ids != nil {
		ids[rec.ID] = struct{}{}
	}
	for w := range l.watchers {
		if w.conversation != "" && w.conversation != rec.Conversation {
			continue
		}
		select {
		case w.ch <- e:
		default:
			// Too slow: cut off rather than stall every writer. The
			// watcher sees its channel closed and may Read to catch up.
			delete(l.watchers, w)
			w.closed = true
			close(w.ch)
		}
	}
	return e, nil
}

// Read is Store.Read.
func (l *Log) Read(ctx context.Context, conversation string, after uint64, limit int) ([]Entry, error) {
	return l.store.Read(ctx, conversation, after, limit)
}

// Contains reports whether the conversation's transcript holds an entry
// with Record.ID id. The first call for a conversation reads its transcript
// from the store; later appends keep the answer current.
func (l *Log) Contains(ctx context.Context, conversation, id string) (bool, error) {
	l.mu.Lock()
	ids, ok := l.index[conversation]
	if ok {
		_, found := ids[id]
		l.mu.Unlock()
		return found, nil
	}
	l.mu.Unlock()
	// Load under the conversation lock so no append slips between the read
	// and the index.
	c := l.lock(conversation)
	defer l.unlock(conversation, c)
	entries, err := l.store.Read(ctx, conversation, 0, 0)
	if err != nil {
		return false, err
	}
	ids = make(map[string]struct{}, len(entries))
	for _, e := range entries {
		ids[e.ID] = struct{}{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.index) >= maxIndexed {
		for k := range l.index {
			delete(l.index, k)
			break
		}
	}
	l.index[conversation] = ids
	_, found := ids[id]
	return found, nil
}

// Forget drops the in-memory id index of a conversation (for example once
// it closed); the transcript itself stays.
func (l *Log) Forget(conversation string) {
	l.mu.Lock()
	delete(l.index, conversation)
	l.mu.Unlock()
}

// Watch returns a channel of every entry appended from now on to
// conversation ("" for all conversations), in per-conversation Seq order,
// and a cancel function. buf is the channel size (0: DefaultWatchBuffer). A
// watcher whose channel is full when an entry comes is cut off: its
// channel is closed (so a slow reader never stalls an append); it should
// Read what it missed and Watch again.
func (l *Log) Watch(conversation string, buf int) (<-chan Entry, func()) {
	if buf <= 0 {
		buf = DefaultWatchBuffer
	}
	w := &watcher{conversation: conversation, ch: make(chan Entry, buf)}
	l.mu.Lock()
	l.watchers[w] = struct{}{}
	l.mu.Unlock()
	return w.ch, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !w.closed {
			delete(l.watchers, w)
			w.closed = true
			close(w.ch)
		}
	}
}

// Close closes every watcher and the store.
func (l *Log) Close() error {
	l.mu.Lock()
	for w := range l.watchers {
		delete(l.watchers, w)
		w.closed = true
		close(w.ch)
	}
	l.mu.Unlock()
	return l.store.Close()
}
