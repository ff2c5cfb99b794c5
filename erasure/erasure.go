// Package erasure makes one customer's data erasable although the routing
// journal is append-only (issue 13 item 6, "data at rest"): each customer's
// fields are sealed with a key of that customer before they reach the
// engine, the journal, snapshots or the transcript stream, and erasing the
// customer deletes the key (crypto-shredding, as GDPR article 17 erasure is
// commonly done for immutable logs). What was sealed then reads as
// {"erased":true} everywhere, and the routing state, which never depends on
// customer fields, replays unchanged.
//
// The keys live in one file (Keyring) under the data directory:
//
//	omniroute-customer-keys v1 <base64 naming key>
//	k <ref> <base64 AES-256 key>
//	...
//
// A customer is named in the file and in sealed values only by its ref, an
// HMAC-SHA256 of the customer id under the naming key, so neither holds the
// id itself. A new key is appended and fsynced before anything sealed with
// it is returned; Erase rewrites the file without the key (write, fsync,
// rename, fsync of the directory).
//
// New keys are committed in groups, without the keyring's mutex held
// across the fsync (Seal and Unseal of known customers never wait for the
// disk): the caller that finds no commit running writes every key line
// queued so far and fsyncs once; a key queued while a commit runs goes in
// the next one, written by one of its waiters. A key is put to use (by
// its own caller and by every other) only once the fsync covering its line
// succeeded; a concurrent Seal of the same new customer waits for that
// same commit and shares its key or its error. A failed write or fsync
// fails every caller of the batch, and the file is cut back to its last
// committed length so that no later key line follows a torn one.
//
// A sealed value is a JSON object, so it passes wherever a customer object
// or a CIM event is expected:
//
//	{"omnirouteSealed":1,"ref":"<ref>","box":"<base64 nonce|AES-GCM ciphertext>"}
//
// Attributes are sealed value by value (SealAttributes: the value becomes
// the text of a sealed value), so a map of strings stays one.
//
// Scope: the keyring file is per node; in cluster mode every node would
// need the same keys, which this package does not replicate.
package erasure

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

const (
	fileHeader = "omniroute-customer-keys v1 "
	// refBytes: 128 bits of the HMAC, base64url (22 characters).
	refBytes = 16
	keyBytes = 32
	// MaxIDBytes bounds a customer id.
	MaxIDBytes = 256
)

// Errors.
var (
	// ErrErased: the customer's key was erased; the value cannot be read.
	ErrErased = errors.New("erasure: customer erased")
	// ErrInvalidID: an empty customer id or one over MaxIDBytes.
	ErrInvalidID = errors.New("erasure: customer id must be 1..256 bytes")
	// ErrInUse: another process (a running server) holds the keyring.
	ErrInUse = errors.New("erasure: the keyring is in use by another process (a running server?)")
	// ErrCorrupt: the keyring file or a sealed value is malformed.
	ErrCorrupt = errors.New("erasure: malformed keyring or sealed value")
)

// Erased is what a sealed value of an erased customer reads as.
var Erased = json.RawMessage(`{"erased":true}`)

// Keyring holds the per-customer keys of one data directory. Safe for
// concurrent use.
type Keyring struct {
	path string
	mu   sync.Mutex
	// done (on mu) is broadcast when the file is released (a commit or
	// an Erase ended): the waiters of that commit's keys return, and a
	// waiter of a key queued since becomes the next committer.
	done *sync.Cond
	lock *os.File          // holds the flock of path+".lock" while open
	name []byte            // naming key of refs
	keys map[string][]byte // durable keys by ref
	aead map[string]cipher.AEAD

	// The file: only the goroutine that set busy uses f, and it does so
	// without mu (the write and the fsync).
	f    *os.File // append handle; nil once closed
	size int64    // length of f's whole lines, as of the last commit
	busy bool     // a commit or an Erase owns f
	// broken, when set, fails every new key: a failed append could not
	// be cut back, so the file may end in a torn line. A successful
	// Erase (which rewrites the file) clears it.
	broken error

	// Keys not yet durable: queue holds the lines of queued (not yet
	// written), pending every one, queued or being committed, by ref.
	queue   []byte
	queued  []*newKey
	pending map[string]*newKey

	// commits and written count the successful commits (one fsync each)
	// and the key lines they made durable (Stats).
	commits, written uint64

	// sync and truncate are (*os.File).Sync and Truncate; tests count
	// and fail them.
	sync     func(*os.File) error
	truncate func(*os.File, int64) error
}

// newKey is a key on its way to the file.
type newKey struct {
	ref     string
	key     []byte
	waiters int   // callers waiting for it besides the first (tests)
	done    bool  // its commit ended
	err     error // why it failed, once done
}

// errClosed: a new key after Close.
var errClosed = errors.New("erasure: keyring closed")

// Open loads the keyring at path, creating it (with a new naming key) when
// missing. A last line without its newline (a crash while appending, before
// the key was used) is dropped. Only one process may hold a keyring: a
// second Open waits for nothing and fails with ErrInUse, so that an offline
// `omniroute erase` never races a running server that would write the
// erased key back. Errors: ErrInUse; the file cannot be read or written;
// ErrCorrupt.
func Open(path string) (_ *Keyring, err error) {
	k := &Keyring{path: path, keys: map[string][]byte{}, aead: map[string]cipher.AEAD{},
		pending: map[string]*newKey{}, sync: (*os.File).Sync, truncate: (*os.File).Truncate}
	k.done = sync.NewCond(&k.mu)
	if k.lock, err = os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("erasure: %w", err)
	}
	if err := syscall.Flock(int(k.lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		k.lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrInUse
		}
		return nil, fmt.Errorf("erasure: lock %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			k.lock.Close()
		}
	}()
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		k.name = make([]byte, keyBytes)
		rand.Read(k.name)
		if k.size, err = k.rewrite(k.fileBytes()); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("erasure: %w", err)
	default:
		if k.size, err = k.parse(b); err != nil {
			return nil, err
		}
	}
	if k.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, fmt.Errorf("erasure: %w", err)
	}
	if k.size < int64(len(b)) {
		// A torn last line: cut it, durably, or the next key line would
		// be appended to it and the file would no longer parse.
		err = k.f.Truncate(k.size)
		if err == nil {
			err = k.f.Sync()
		}
		if err != nil {
			k.f.Close()
			return nil, fmt.Errorf("erasure: cut the torn last line of %s: %w", path, err)
		}
	}
	return k, nil
}

// parse loads the file's content b and returns the length of its whole
// lines (a torn last line is not loaded).
func (k *Keyring) parse(b []byte) (int64, error) {
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		return 0, fmt.Errorf("%w: %s has no header line", ErrCorrupt, k.path)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 256), 1024)
	for n := 0; sc.Scan(); n++ {
		line := sc.Text()
		if n == 0 {
			enc, ok := strings.CutPrefix(line, fileHeader)
			name, err := base64.StdEncoding.DecodeString(enc)
			if !ok || err != nil || len(name) != keyBytes {
				return 0, fmt.Errorf("%w: %s: bad header", ErrCorrupt, k.path)
			}
			k.name = name
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "k" {
			return 0, fmt.Errorf("%w: %s line %d", ErrCorrupt, k.path, n+1)
		}
		key, err := base64.StdEncoding.DecodeString(f[2])
		if err != nil || len(key) != keyBytes {
			return 0, fmt.Errorf("%w: %s line %d: bad key", ErrCorrupt, k.path, n+1)
		}
		k.keys[f[1]] = key
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrCorrupt, k.path, err)
	}
	return int64(len(b)), nil
}

// fileBytes is the file's content for the naming key and the durable keys
// (k.mu held, or k not yet shared).
func (k *Keyring) fileBytes() []byte {
	var b bytes.Buffer
	b.WriteString(fileHeader + base64.StdEncoding.EncodeToString(k.name) + "\n")
	for ref, key := range k.keys { // order is irrelevant: one line per ref
		b.Write(keyLine(ref, key))
	}
	return b.Bytes()
}

// keyLine is the file's line of one key.
func keyLine(ref string, key []byte) []byte {
	return []byte("k " + ref + " " + base64.StdEncoding.EncodeToString(key) + "\n")
}

// rewrite replaces the file with b and returns its length.
func (k *Keyring) rewrite(b []byte) (int64, error) {
	tmp := k.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("erasure: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, k.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(k.path))
	}
	if err != nil {
		return 0, fmt.Errorf("erasure: rewrite %s: %w", k.path, err)
	}
	return int64(len(b)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Ref names customer id in sealed values and in the file. Errors:
// ErrInvalidID.
func (k *Keyring) Ref(id string) (string, error) {
	if id == "" || len(id) > MaxIDBytes {
		return "", ErrInvalidID
	}
	m := hmac.New(sha256.New, k.name)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:refBytes]), nil
}

// cipherFor returns the AEAD of ref, creating and durably recording a key
// when create is set and none exists (commit). ErrErased when there is
// none: a key still on its way to the file counts as none for Unseal, as
// nothing sealed with it has been handed out.
func (k *Keyring) cipherFor(ref string, create bool) (cipher.AEAD, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if a, ok := k.aead[ref]; ok {
		return a, nil
	}
	key, ok := k.keys[ref]
	if !ok {
		if !create {
			return nil, ErrErased
		}
		n, err := k.await(ref)
		if err != nil {
			return nil, err
		}
		if a, ok := k.aead[ref]; ok { // made by another waiter of n
			return a, nil
		}
		key = n.key
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	k.aead[ref] = a
	return a, nil
}

// await queues a new key for ref, or joins the one already on its way,
// and returns once its commit ended: with the key durable and in k.keys,
// or with the commit's error. k.mu is held, and released while waiting.
func (k *Keyring) await(ref string) (*newKey, error) {
	n := k.pending[ref]
	switch {
	case n != nil:
		n.waiters++
	case k.broken != nil:
		return nil, k.broken
	case k.f == nil:
		return nil, errClosed
	default:
		n = &newKey{ref: ref, key: make([]byte, keyBytes)}
		rand.Read(n.key)
		k.pending[ref] = n
		k.queue = append(k.queue, keyLine(ref, n.key)...)
		k.queued = append(k.queued, n)
	}
	for !n.done {
		if k.busy {
			k.done.Wait()
			continue
		}
		// n is queued: a commit that took it would have set n.done.
		k.commit()
	}
	return n, n.err
}

// commit writes the queued key lines and fsyncs them, then makes their
// keys usable (or fails them all). k.mu is held on entry and on return,
// and released for the write and the fsync.
func (k *Keyring) commit() {
	k.busy = true
	batch, lines := k.queued, k.queue
	k.queued, k.queue = nil, nil
	f, size, syncf, truncate := k.f, k.size, k.sync, k.truncate
	k.mu.Unlock()
	err := errClosed
	var broken error
	if f != nil {
		_, err = f.Write(lines)
		if err == nil {
			err = syncf(f)
		}
		if err != nil {
			err = fmt.Errorf("erasure: append key: %w", err)
			// The lines may be partly written: cut them, so that the
			// next batch starts on a whole line. Not fsynced: the next
			// batch's fsync persists the length with its own lines,
			// and until then a crash at worst leaves these keys,
			// unused, or a torn last line, which Open drops.
			if terr := truncate(f, size); terr != nil {
				broken = fmt.Errorf("erasure: %s may end in a torn key line (append failed: %v; cutting it back failed: %w)", k.path, err, terr)
			}
		}
	}
	k.mu.Lock()
	if err == nil {
		k.size = size + int64(len(lines))
		k.commits++
		k.written += uint64(len(batch))
	}
	if broken != nil {
		k.broken = broken
	}
	for _, n := range batch {
		n.done, n.err = true, err
		delete(k.pending, n.ref)
		if err == nil {
			k.keys[n.ref] = n.key
		}
	}
	k.busy = false
	k.done.Broadcast()
}

// KeyringStats are a keyring's counters since Open.
type KeyringStats struct {
	// Commits is the appends of new keys that succeeded: one fsync each,
	// however many keys it carried (the group commit).
	Commits uint64
	// Written is the new keys those commits made durable.
	Written uint64
}

// Stats returns the keyring's counters (zero for a nil keyring).
func (k *Keyring) Stats() KeyringStats {
	if k == nil {
		return KeyringStats{}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return KeyringStats{Commits: k.commits, Written: k.written}
}

// envelope is a sealed value.
type envelope struct {
	Sealed int    `json:"omnirouteSealed"`
	Ref    string `json:"ref"`
	Box    []byte `json:"box"`
}

// Seal encrypts plaintext under the key of the customer named by ref
// (Ref), creating the key when the customer has none. Errors: the key
// could not be recorded.
func (k *Keyring) Seal(ref string, plaintext []byte) (json.RawMessage, error) {
	a, err := k.cipherFor(ref, true)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	rand.Read(nonce)
	box := a.Seal(nonce, nonce, plaintext, []byte(ref))
	if !plainJSON(ref) {
		return json.Marshal(envelope{Sealed: 1, Ref: ref, Box: box})
	}
	return appendEnvelope(make([]byte, 0, len(envelopeRef)+len(ref)+len(envelopeBox)+base64.StdEncoding.EncodedLen(len(box))+len(envelopeEnd)), ref, box), nil
}

// The envelope's text around its ref and box, as json.Marshal writes
// envelope: Seal writes it with appends (a sealed value is made for every
// customer object, attribute and CIM event, so it is on the path of every
// conversation), and Unseal and RefOf read it back without the reflection
// of encoding/json when a value is in exactly this form.
const (
	envelopeRef = `{"omnirouteSealed":1,"ref":"`
	envelopeBox = `","box":"`
	envelopeEnd = `"}`
)

// appendEnvelope appends the envelope of ref and box to b: the bytes of
// json.Marshal(envelope{1, ref, box}) for a ref that plainJSON accepts
// (a Ref always is: base64url).
func appendEnvelope(b []byte, ref string, box []byte) []byte {
	b = append(b, envelopeRef...)
	b = append(b, ref...)
	b = append(b, envelopeBox...)
	b = base64.StdEncoding.AppendEncode(b, box)
	return append(b, envelopeEnd...)
}

// plainJSON says whether s is printable ASCII that encoding/json (with
// its HTML escaping) writes unchanged between quotes.
func plainJSON[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// parseEnvelope reads v when it is in exactly the form appendEnvelope
// writes; ok is false otherwise (another spelling of the same JSON is then
// read by encoding/json). box is new memory; ref is v's bytes.
func parseEnvelope(v []byte) (ref []byte, box []byte, ok bool) {
	rest, ok := bytes.CutPrefix(v, []byte(envelopeRef))
	if !ok {
		return nil, nil, false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return nil, nil, false
	}
	ref, rest = rest[:i], rest[i:]
	if !plainJSON(ref) {
		return nil, nil, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(envelopeBox)); !ok {
		return nil, nil, false
	}
	enc, ok := bytes.CutSuffix(rest, []byte(envelopeEnd))
	if !ok {
		return nil, nil, false
	}
	for _, c := range enc {
		// The standard alphabet only: encoding/json would first unquote
		// an escape, and base64 skips line breaks.
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, nil, false
		}
	}
	box, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(enc))), enc)
	if err != nil {
		return nil, nil, false
	}
	return ref, box, true
}

// readEnvelope decodes a sealed value; ok is false when v is not one
// (not JSON, or not an envelope of version 1).
func readEnvelope(v []byte) (ref string, box []byte, ok bool) {
	if r, b, ok := parseEnvelope(v); ok {
		return string(r), b, true
	}
	var e envelope
	if json.Unmarshal(v, &e) != nil || e.Sealed != 1 {
		return "", nil, false
	}
	return e.Ref, e.Box, true
}

// SealedSize is the largest sealed value of a plaintext of n bytes.
func SealedSize(n int) int {
	return base64.StdEncoding.EncodedLen(12+n+16) + 64
}

// RefOf returns the ref of a sealed value, "" when v is not sealed.
func RefOf(v []byte) string {
	if !bytes.Contains(v, []byte(`"omnirouteSealed"`)) {
		return ""
	}
	if r, _, ok := parseEnvelope(v); ok {
		return string(r)
	}
	var e envelope
	if json.Unmarshal(v, &e) != nil || e.Sealed != 1 {
		return ""
	}
	return e.Ref
}

// Unseal returns the plaintext of v when v is sealed, and v itself when it
// is not (data stored before sealing was enabled). Errors: ErrErased when
// the customer's key was erased; ErrCorrupt when v is a damaged sealed
// value.
func (k *Keyring) Unseal(v []byte) ([]byte, error) {
	if !bytes.Contains(v, []byte(`"omnirouteSealed"`)) {
		return v, nil
	}
	ref, box, ok := readEnvelope(v)
	if !ok {
		return v, nil
	}
	a, err := k.cipherFor(ref, false)
	if err != nil {
		return nil, err
	}
	if len(box) < a.NonceSize() {
		return nil, ErrCorrupt
	}
	// The plaintext goes over the ciphertext: box is Unseal's own.
	p, err := a.Open(box[a.NonceSize():a.NonceSize()], box[:a.NonceSize()], box[a.NonceSize():], []byte(ref))
	if err != nil {
		return nil, ErrCorrupt
	}
	return p, nil
}

// Show is Unseal for display: an erased or damaged value reads as Erased.
// A nil Keyring shows v unchanged.
func (k *Keyring) Show(v json.RawMessage) json.RawMessage {
	if k == nil || len(v) == 0 {
		return v
	}
	p, err := k.Unseal(v)
	if err != nil {
		return Erased
	}
	return p
}

// Erase deletes the key of customer id, so that everything sealed for it
// can no longer be read, and reports whether there was one (a key still on
// its way to the file is not one yet). It waits for a running commit, and
// new keys wait for it; Seal and Unseal of the customer keep using the key
// until the rewritten file is in place. Errors: ErrInvalidID; the file
// could not be rewritten (the key is then kept).
func (k *Keyring) Erase(id string) (bool, error) {
	ref, err := k.Ref(id)
	if err != nil {
		return false, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for k.busy {
		k.done.Wait()
	}
	key, ok := k.keys[ref]
	if !ok {
		return false, nil
	}
	delete(k.keys, ref)
	b := k.fileBytes()
	k.keys[ref] = key
	k.busy = true
	k.mu.Unlock()
	size, err := k.rewrite(b)
	rewritten := err == nil
	var f *os.File
	if rewritten {
		if f, err = os.OpenFile(k.path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			err = fmt.Errorf("erasure: reopen %s: %w", k.path, err)
		}
	}
	k.mu.Lock()
	k.busy = false
	k.done.Broadcast()
	if !rewritten {
		return false, err
	}
	delete(k.keys, ref)
	delete(k.aead, ref)
	if k.f != nil {
		k.f.Close()
	}
	k.f, k.size, k.broken = f, size, nil
	if err != nil {
		k.broken = err
		return true, err
	}
	return true, nil
}

// Len is the number of customers with a key.
func (k *Keyring) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}

// Close closes the file, once a running commit or Erase ended. Unseal of
// keys already loaded keeps working; Seal of a new customer fails.
func (k *Keyring) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for k.busy {
		k.done.Wait()
	}
	if k.lock != nil {
		k.lock.Close() // releases the flock
		k.lock = nil
	}
	if k.f == nil {
		return nil
	}
	err := k.f.Close()
	k.f = nil
	return err
}
