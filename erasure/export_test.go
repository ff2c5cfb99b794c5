package erasure

import "os"

// SetFileOps replaces the keyring's fsync and truncate of its append
// handle (nil keeps the one in place), so that tests count and fail them.
func SetFileOps(k *Keyring, sync func(*os.File) error, truncate func(*os.File, int64) error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if sync != nil {
		k.sync = sync
	}
	if truncate != nil {
		k.truncate = truncate
	}
}

// Pending is the number of new keys queued or being committed.
func Pending(k *Keyring) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.pending)
}

// Joined is the number of callers waiting for ref's new key besides the
// one that queued it.
func Joined(k *Keyring, ref string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if n := k.pending[ref]; n != nil {
		return n.waiters
	}
	return 0
}
