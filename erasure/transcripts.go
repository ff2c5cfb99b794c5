package erasure

import (
	"context"
	"sync"

	"github.com/omniroute/omniroute/transcript"
)

// Transcripts is a transcript.Store that seals each entry's data with the
// key of its conversation's customer and unseals on read (an erased
// customer's entries read as Erased). Entries of a conversation without a
// sealed customer are stored as given.
type Transcripts struct {
	inner  transcript.Store
	keys   *Keyring
	refOf  func(ctx context.Context, conversation string) (string, error)
	limits transcript.Limits

	mu    sync.Mutex
	cache map[string]string // conversation -> ref, only found refs
}

// maxCachedConversations bounds Transcripts' cache of refs; it is cleared
// when full (a miss costs one look-up of the conversation).
const maxCachedConversations = 1 << 16

var _ transcript.BatchStore = (*Transcripts)(nil)

// InnerLimits are the limits to give the store under Transcripts: room for
// a sealed entry of l's largest plaintext.
func InnerLimits(l transcript.Limits) transcript.Limits {
	l = l.WithDefaults()
	l.MaxEntryBytes = SealedSize(l.MaxEntryBytes)
	return l
}

// NewTranscripts wraps inner, which must have been opened with
// InnerLimits(limits). refOf returns the ref of the conversation's sealed
// customer (RefOf of its customer object), "" when it has none.
func NewTranscripts(inner transcript.Store, keys *Keyring, limits transcript.Limits,
	refOf func(ctx context.Context, conversation string) (string, error)) *Transcripts {
	return &Transcripts{inner: inner, keys: keys, refOf: refOf, limits: limits.WithDefaults(), cache: map[string]string{}}
}

func (t *Transcripts) ref(ctx context.Context, conversation string) (string, error) {
	t.mu.Lock()
	ref, ok := t.cache[conversation]
	t.mu.Unlock()
	if ok {
		return ref, nil
	}
	ref, err := t.refOf(ctx, conversation)
	if err != nil || ref == "" {
		return "", err
	}
	t.mu.Lock()
	if len(t.cache) >= maxCachedConversations {
		clear(t.cache)
	}
	t.cache[conversation] = ref
	t.mu.Unlock()
	return ref, nil
}

// seal checks rec against the plaintext limits and seals its data.
func (t *Transcripts) seal(ctx context.Context, rec transcript.Record) (transcript.Record, error) {
	if err := transcript.Check(rec, t.limits); err != nil {
		return rec, err
	}
	ref, err := t.ref(ctx, rec.Conversation)
	if err != nil || ref == "" {
		return rec, err
	}
	sealed := rec
	if sealed.Data, err = t.keys.Seal(ref, rec.Data); err != nil {
		return rec, err
	}
	return sealed, nil
}

// Append implements transcript.Store; the entry returned holds the
// plaintext.
func (t *Transcripts) Append(ctx context.Context, rec transcript.Record) (transcript.Entry, error) {
	sealed, err := t.seal(ctx, rec)
	if err != nil {
		return transcript.Entry{}, err
	}
	e, err := t.inner.Append(ctx, sealed)
	e.Data = rec.Data
	return e, err
}

// AppendBatch implements transcript.BatchStore.
func (t *Transcripts) AppendBatch(ctx context.Context, recs []transcript.Record) ([]transcript.Entry, []error) {
	entries, errs := make([]transcript.Entry, len(recs)), make([]error, len(recs))
	sealed := make([]transcript.Record, 0, len(recs))
	at := make([]int, 0, len(recs))
	for i, r := range recs {
		s, err := t.seal(ctx, r)
		if err != nil {
			errs[i] = err
			continue
		}
		sealed, at = append(sealed, s), append(at, i)
	}
	var ie []transcript.Entry
	var ierr []error
	if bs, ok := t.inner.(transcript.BatchStore); ok {
		ie, ierr = bs.AppendBatch(ctx, sealed)
	} else {
		ie, ierr = make([]transcript.Entry, len(sealed)), make([]error, len(sealed))
		for j, s := range sealed {
			ie[j], ierr[j] = t.inner.Append(ctx, s)
		}
	}
	for j, i := range at {
		entries[i], errs[i] = ie[j], ierr[j]
		entries[i].Data = recs[i].Data
	}
	return entries, errs
}

// Read implements transcript.Store, unsealing each entry.
func (t *Transcripts) Read(ctx context.Context, conversation string, after uint64, limit int) ([]transcript.Entry, error) {
	es, err := t.inner.Read(ctx, conversation, after, limit)
	for i := range es {
		es[i].Data = t.keys.Show(es[i].Data)
	}
	return es, err
}

// Close closes the inner store.
func (t *Transcripts) Close() error { return t.inner.Close() }
