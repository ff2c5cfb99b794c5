package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// revocations are, per agent, the time before which (inclusive, Unix
// milliseconds) its tokens no longer count: Revoke at LOGOUT or by an
// admin. Kept in a file when one is set, so a restart does not revive them.
type revocations struct {
	mu     sync.Mutex
	before map[string]int64
	file   string
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

// Revoke makes every token and refresh token issued to agentID until now
// invalid (the agent logs in again). Errors: the revocation file cannot be
// written (the revocation holds in memory regardless).
func (a *Authenticator) Revoke(agentID string) error {
	r := &a.revocations
	r.mu.Lock()
	r.before[agentID] = a.now().UnixMilli()
	if r.file == "" {
		r.mu.Unlock()
		return nil
	}
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
