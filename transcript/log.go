package transcript

import (
	"cmp"
	"context"
	"slices"
	"sync"
)

// DefaultWatchBuffer is a watcher's channel size when Watch is given 0.
const DefaultWatchBuffer = 4096

// maxIndexed bounds the conversations whose message ids Log keeps in memory
// (for Contains); past it, an arbitrary one is forgotten and reloaded from
// the store when needed again.
const maxIndexed = 10_000

// Tail defaults (LogOptions).
const (
	// DefaultTailBytes bounds one conversation's in-memory tail: 32 KiB
	// of entry data, a chat of some dozens of messages and its system
	// events. Longer transcripts keep their newest entries in memory and
	// a read from the start goes to the store.
	DefaultTailBytes = 32 << 10
	// DefaultMaxTails bounds the conversations that have a tail; past it
	// an arbitrary one is dropped (its reads then go to the store). With
	// DefaultTailBytes the worst case is 640 MiB; a typical open chat
	// holds a few KiB.
	DefaultMaxTails = 20_000
)

// LogOptions configures NewLogOptions. The zero value of a field selects
// its default.
type LogOptions struct {
	// TailBytes bounds the Data bytes of one conversation's tail
	// (default DefaultTailBytes; negative: no tail is kept).
	TailBytes int
	// MaxTails bounds the conversations with a tail (default
	// DefaultMaxTails).
	MaxTails int
}

// Log is the front of a Store that adapters share: it serializes appends
// per conversation, tells watchers about every entry once it is durable,
// and answers whether a conversation holds an id (the target of a reply).
//
// It also keeps a bounded tail of each open conversation in memory, filled
// as entries are appended, so Read (an agent accepting a task gets the
// whole transcript) does not go to the store while the tail covers what is
// asked. A tail covers a conversation from its start when Begin declared
// the conversation new or when a full Read from the store filled it (after
// a restart); otherwise it covers from its first entry on. Forget drops it
// (the conversation closed). The Log must be the only writer of its store
// for the tail to be exact: an entry appended past it is not seen.
// Safe for concurrent use. Create with NewLog.
type Log struct {
	store Store
	opts  LogOptions

	mu       sync.Mutex
	locks    map[string]*convLock
	watchers map[*watcher]struct{}
	index    map[string]map[string]struct{} // conversation -> ids, when loaded
	tails    map[string]*tail
}

// tail holds every entry of a conversation with Seq > cover, oldest first.
type tail struct {
	cover   uint64
	entries []Entry
	bytes   int
}

// add appends e and drops the oldest entries past limit bytes, raising
// cover to the last one dropped.
func (t *tail) add(e Entry, limit int) {
	t.entries = append(t.entries, e)
	t.bytes += len(e.Data)
	drop := 0
	for t.bytes > limit && drop < len(t.entries) {
		t.bytes -= len(t.entries[drop].Data)
		t.cover = t.entries[drop].Seq
		drop++
	}
	if drop > 0 {
		t.entries = append(t.entries[:0:0], t.entries[drop:]...)
	}
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

// NewLog returns a Log over store with the default LogOptions; Close
// closes store.
func NewLog(store Store) *Log { return NewLogOptions(store, LogOptions{}) }

// NewLogOptions returns a Log over store with options o; Close closes store.
func NewLogOptions(store Store, o LogOptions) *Log {
	if o.TailBytes == 0 {
		o.TailBytes = DefaultTailBytes
	}
	if o.MaxTails <= 0 {
		o.MaxTails = DefaultMaxTails
	}
	return &Log{store: store, opts: o, locks: map[string]*convLock{}, watchers: map[*watcher]struct{}{},
		index: map[string]map[string]struct{}{}, tails: map[string]*tail{}}
}

// setTail installs t for conv (l.mu held), dropping an arbitrary tail
// when at MaxTails.
func (l *Log) setTail(conv string, t *tail) {
	if l.opts.TailBytes < 0 {
		return
	}
	if _, ok := l.tails[conv]; !ok && len(l.tails) >= l.opts.MaxTails {
		for k := range l.tails {
			delete(l.tails, k)
			break
		}
	}
	l.tails[conv] = t
}

// Begin declares conversation new: the store holds nothing of it, so the
// tail covers it from the start and reads of it are served from memory.
// Call it when the conversation is created, before its first append; an
// entry already appended through this Log is kept.
func (l *Log) Begin(conversation string) {
	c := l.lock(conversation)
	defer l.unlock(conversation, c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.tails[conversation]; t != nil {
		if len(t.entries) > 0 && t.entries[0].Seq-1 == t.cover {
			t.cover = 0
		}
		return
	}
	l.setTail(conversation, &tail{})
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
	l.publish(e)
	return e, nil
}

// publish records the durable entry e in the index and tail and hands it
// to the watchers (l.mu held, e's conversation locked).
func (l *Log) publish(e Entry) {
	if ids := l.index[e.Conversation]; ids != nil {
		ids[e.ID] = struct{}{}
	}
	if t := l.tails[e.Conversation]; t != nil {
		t.add(e, l.opts.TailBytes)
	} else if l.opts.TailBytes >= 0 {
		// History before e is unknown here: the tail covers from e on.
		t = &tail{cover: e.Seq - 1}
		t.add(e, l.opts.TailBytes)
		l.setTail(e.Conversation, t)
	}
	for w := range l.watchers {
		if w.conversation != "" && w.conversation != e.Conversation {
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
}

// AppendBatch is Append for several records at once, made durable in one
// round when the store is a BatchStore (one publish-and-wait, not one per
// record). Watchers get the stored entries in recs' order, each only once
// every record of the batch is settled. It returns one Entry and one error
// per record (errs[i] nil: entries[i] is stored and was published).
func (l *Log) AppendBatch(ctx context.Context, recs []Record) ([]Entry, []error) {
	bs, ok := l.store.(BatchStore)
	if !ok {
		entries, errs := make([]Entry, len(recs)), make([]error, len(recs))
		for i, r := range recs {
			entries[i], errs[i] = l.Append(ctx, r)
		}
		return entries, errs
	}
	// Lock every conversation of the batch, in name order so two batches
	// never wait on each other.
	convs := make([]string, 0, len(recs))
	for _, r := range recs {
		convs = append(convs, r.Conversation)
	}
	slices.Sort(convs)
	convs = slices.Compact(convs)
	locks := make([]*convLock, len(convs))
	for i, c := range convs {
		locks[i] = l.lock(c)
	}
	defer func() {
		for i := len(convs) - 1; i >= 0; i-- {
			l.unlock(convs[i], locks[i])
		}
	}()
	entries, errs := bs.AppendBatch(ctx, recs)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range entries {
		if errs[i] == nil {
			l.publish(e)
		}
	}
	return entries, errs
}

// Read is Store.Read, served from the conversation's tail when it covers
// the entries after `after`. Otherwise it reads the store; a read of the
// whole transcript (after 0, no limit) then fills the tail, so the next
// one is served from memory.
func (l *Log) Read(ctx context.Context, conversation string, after uint64, limit int) ([]Entry, error) {
	if out, ok := l.fromTail(conversation, after, limit); ok {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return out, nil
	}
	if after != 0 || limit > 0 || l.opts.TailBytes < 0 {
		return l.store.Read(ctx, conversation, after, limit)
	}
	// Under the conversation lock no append slips between the read and
	// the tail.
	c := l.lock(conversation)
	defer l.unlock(conversation, c)
	entries, err := l.store.Read(ctx, conversation, 0, 0)
	if err != nil {
		return nil, err
	}
	t := &tail{}
	for _, e := range entries {
		t.add(e, l.opts.TailBytes)
	}
	l.mu.Lock()
	l.setTail(conversation, t)
	l.mu.Unlock()
	return entries, nil
}

// fromTail answers Read from memory when the tail covers it.
func (l *Log) fromTail(conversation string, after uint64, limit int) ([]Entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tails[conversation]
	if t == nil || after < t.cover {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(t.entries, after+1, func(e Entry, seq uint64) int {
		return cmp.Compare(e.Seq, seq)
	})
	list := t.entries[i:]
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	return slices.Clone(list), true
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

// Forget drops the in-memory id index and tail of a conversation (for
// example once it closed); the transcript itself stays.
func (l *Log) Forget(conversation string) {
	l.mu.Lock()
	delete(l.index, conversation)
	delete(l.tails, conversation)
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
