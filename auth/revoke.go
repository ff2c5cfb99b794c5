package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// revocations are, per agent, the time before which (inclusive, Unix
// milliseconds) its tokens no longer count: Revoke by an admin, RevokeLogout
// at LOGOUT. Kept in a file when one is set (single-node mode), so a restart
// does not revive them, or in a RevocationStore every node of a cluster
// shares (ShareRevocations).
type revocations struct {
	mu     sync.Mutex
	before map[string]int64
	file   string
	shared RevocationStore
	// writing serializes the file's writes, so the last one written holds
	// every revocation.
	writing sync.Mutex
}

func (r *revocations) load(file string) error {
	r.before, r.file = map[string]int64{}, file
	if file == "" {
		return nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = json.Unmarshal(b, &r.before)
	}
	if err != nil {
		return fmt.Errorf("auth: revocations %s: %w", file, err)
	}
	return nil
}

func (r *revocations) revokedAt(agent string, iatMilli int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.before[agent]
	return ok && iatMilli <= t
}

// raise moves agent's revocation to before unless it is already later.
func (r *revocations) raise(agent string, before int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if before > r.before[agent] {
		r.before[agent] = before
	}
}

// Revocation is an agent's revocation as a RevocationStore keeps it.
type Revocation struct {
	// Before: the agent's tokens issued at or before it (Unix
	// milliseconds) are refused.
	Before int64 `json:"before"`
	// Logout is the journal entry of the last LOGOUT recorded (0: none).
	// Every node of a cluster applies a LOGOUT and records it; the first
	// one sets Before, the others adopt its time instead of their own (a
	// node that applies the entry later must not refuse a token issued
	// after the LOGOUT elsewhere).
	Logout uint64 `json:"logout,omitempty"`
}

// Merge returns what a store holds once r is recorded over stored: stored
// itself when r is a LOGOUT already recorded (r.Logout <= stored.Logout),
// else the later Before and the later Logout.
func (stored Revocation) Merge(r Revocation) Revocation {
	if r.Logout != 0 && r.Logout <= stored.Logout {
		return stored
	}
	return Revocation{Before: max(stored.Before, r.Before), Logout: max(stored.Logout, r.Logout)}
}

// RevocationStore keeps revocations where every node of a cluster sees
// them (KVRevocations). Its methods are safe for concurrent use.
type RevocationStore interface {
	// Record stores stored.Merge(r) for agent, without losing another
	// writer's record made at the same time, and returns what is stored.
	Record(ctx context.Context, agent string, r Revocation) (Revocation, error)
	// Watch calls fn with every agent's stored revocation before it
	// returns, then, from another goroutine, with every revocation any
	// writer records until ctx ends. Errors: the store cannot be read.
	Watch(ctx context.Context, fn func(agent string, r Revocation)) error
}

// recordTimeout bounds one revocation's write to a RevocationStore.
const recordTimeout = 10 * time.Second

// ShareRevocations makes store hold a's revocations (cluster mode): a's
// revocations are raised to every one store holds or receives until ctx
// ends, and Revoke and RevokeLogout record there instead of in the file.
// Call it once, before a serves. Errors: the store's Watch.
func (a *Authenticator) ShareRevocations(ctx context.Context, store RevocationStore) error {
	if err := store.Watch(ctx, func(agent string, r Revocation) { a.revocations.raise(agent, r.Before) }); err != nil {
		return fmt.Errorf("auth: revocations: %w", err)
	}
	a.revocations.mu.Lock()
	a.revocations.shared = store
	a.revocations.mu.Unlock()
	return nil
}

// Revoke makes every token and refresh token issued to agentID until now
// invalid (the agent logs in again): an admin's revocation. Errors: the
// revocation file or store cannot be written (the revocation holds on this
// node, in memory, regardless).
func (a *Authenticator) Revoke(agentID string) error {
	return a.record(agentID, Revocation{Before: a.now().UnixMilli()})
}

// RevokeLogout is Revoke for the LOGOUT of agentID in journal entry entry.
// In cluster mode every node calls it for the same entry; the first call
// sets the time, the later ones (and a replay of the entry) adopt it.
// Errors: as Revoke's.
func (a *Authenticator) RevokeLogout(agentID string, entry uint64) error {
	return a.record(agentID, Revocation{Before: a.now().UnixMilli(), Logout: entry})
}

func (a *Authenticator) record(agentID string, rev Revocation) error {
	r := &a.revocations
	r.mu.Lock()
	shared := r.shared
	r.mu.Unlock()
	if shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
		defer cancel()
		stored, err := shared.Record(ctx, agentID, rev)
		if err != nil {
			r.raise(agentID, rev.Before)
			return fmt.Errorf("auth: revocations: %w", err)
		}
		r.raise(agentID, stored.Before)
		return nil
	}
	r.raise(agentID, rev.Before)
	if r.file == "" {
		return nil
	}
	r.writing.Lock()
	defer r.writing.Unlock()
	r.mu.Lock()
	b, _ := json.Marshal(r.before)
	r.mu.Unlock()
	return writeAtomic(r.file, b)
}

// writeAtomic writes b to path through a synced temporary file and a
// rename, so a crash leaves the old or the new content.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".revocations-*")
	if err != nil {
		return fmt.Errorf("auth: revocations: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("auth: revocations: %w", err)
	}
	return nil
}

// RevokedBefore reports when agentID's tokens were last revoked (zero:
// never).
func (a *Authenticator) RevokedBefore(agentID string) time.Time {
	a.revocations.mu.Lock()
	defer a.revocations.mu.Unlock()
	if t, ok := a.revocations.before[agentID]; ok {
		return time.UnixMilli(t)
	}
	return time.Time{}
}
