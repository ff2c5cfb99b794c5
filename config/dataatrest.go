package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Limits of the dataAtRest section.
const (
	// MinEncryptionKeyBytes is the shortest JetStream encryption key
	// accepted: nats-server derives its AES-256 keys from it, so anything
	// shorter than 32 bytes of secret is weaker than the cipher.
	MinEncryptionKeyBytes = 32
	// MaxEncryptionKeyBytes bounds a key file read at start-up.
	MaxEncryptionKeyBytes = 4 << 10
	// MaxRetentionDays bounds dataAtRest.transcriptRetentionDays (ten years).
	MaxRetentionDays = 3660
)

// DataAtRest is the dataAtRest section: how the server's stored data is
// protected and how long it is kept (docs/SECURITY.md "Data at rest").
//
//	dataAtRest:
//	  encryptionKeyFile: /etc/omniroute/jetstream.key
//	  previousEncryptionKeyFile: /etc/omniroute/jetstream.key.old  # during a rotation
//	  transcriptRetentionDays: 90
//	  compactJournal: true
//	  customerKeys: true
type DataAtRest struct {
	// EncryptionKey encrypts the embedded JetStream store at rest with
	// nats-server's own file-store encryption (AES-GCM, one key per
	// message block derived from this one). Prefer EncryptionKeyFile, which
	// keeps the secret out of the config. At least MinEncryptionKeyBytes.
	// Empty with EncryptionKeyFile empty: the store is plaintext. Only for
	// the embedded server: an external NATS server is encrypted by its own
	// jetstream.key setting.
	EncryptionKey string `yaml:"encryptionKey"`
	// EncryptionKeyFile names a file whose content (surrounding white space
	// trimmed) is the encryption key.
	EncryptionKeyFile string `yaml:"encryptionKeyFile"`
	// PreviousEncryptionKeyFile holds the key being rotated out: the
	// server opens the store with it and re-encrypts every block with the
	// new key at start-up (nats-server's prev_encryption_key).
	PreviousEncryptionKeyFile string `yaml:"previousEncryptionKeyFile"`
	// TranscriptRetentionDays deletes transcript entries older than this
	// many days (the stream's max age). 0 or absent: kept until erased.
	TranscriptRetentionDays int `yaml:"transcriptRetentionDays"`
	// CompactJournal deletes the routing journal's entries once a snapshot
	// covers them (server.snapshotEvery commands), instead of keeping the
	// journal whole. It needs a journal stream created with it (a new data
	// dir): JetStream cannot lift the purge protection of an existing one,
	// and compaction then fails with a logged error. Single node only.
	CompactJournal bool `yaml:"compactJournal"`
	// CustomerKeys seals each customer's fields (the conversation's
	// customer object and its transcript) with a key of that customer, kept
	// under dataDir, so that `omniroute erase --customer ID` can make them
	// unreadable everywhere, journal and snapshots included (package
	// erasure). Absent: true. false stores them as given.
	CustomerKeys *bool `yaml:"customerKeys"`
}

// SealCustomers reports whether customer fields are sealed with
// per-customer keys (CustomerKeys, default true).
func (d DataAtRest) SealCustomers() bool { return d.CustomerKeys == nil || *d.CustomerKeys }

// Keys returns the JetStream encryption key and the previous key (both
// "" when the store is plaintext), reading the files named. Errors: a file
// cannot be read, is empty or too long, or a key is shorter than
// MinEncryptionKeyBytes.
func (d DataAtRest) Keys() (key, previous string, err error) {
	key = d.EncryptionKey
	if d.EncryptionKeyFile != "" {
		if key, err = readKeyFile("dataAtRest.encryptionKeyFile", d.EncryptionKeyFile); err != nil {
			return "", "", err
		}
	}
	if d.PreviousEncryptionKeyFile != "" {
		if previous, err = readKeyFile("dataAtRest.previousEncryptionKeyFile", d.PreviousEncryptionKeyFile); err != nil {
			return "", "", err
		}
	}
	if key != "" && len(key) < MinEncryptionKeyBytes {
		return "", "", fmt.Errorf("config: dataAtRest: the encryption key has %d bytes, at least %d are required", len(key), MinEncryptionKeyBytes)
	}
	if previous != "" && key == "" {
		return "", "", errors.New("config: dataAtRest: previousEncryptionKeyFile needs the new key in encryptionKeyFile")
	}
	return key, previous, nil
}

func readKeyFile(what, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("config: %s: %w", what, err)
	}
	if len(b) > MaxEncryptionKeyBytes {
		return "", fmt.Errorf("config: %s: %s is over %d bytes", what, path, MaxEncryptionKeyBytes)
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", fmt.Errorf("config: %s: %s is empty", what, path)
	}
	return k, nil
}

func (d DataAtRest) validate(p *problems, natsURL string) {
	if d.EncryptionKey != "" && d.EncryptionKeyFile != "" {
		p.addf("dataAtRest", "encryptionKey and encryptionKeyFile exclude each other; keep the file")
	}
	if d.EncryptionKey != "" && len(d.EncryptionKey) < MinEncryptionKeyBytes {
		p.addf("dataAtRest.encryptionKey", "%d bytes, at least %d are required", len(d.EncryptionKey), MinEncryptionKeyBytes)
	}
	if d.PreviousEncryptionKeyFile != "" && d.EncryptionKey == "" && d.EncryptionKeyFile == "" {
		p.addf("dataAtRest.previousEncryptionKeyFile", "needs the new key in encryptionKeyFile")
	}
	if natsURL != "" && (d.EncryptionKey != "" || d.EncryptionKeyFile != "") {
		p.addf("dataAtRest", "the encryption key applies to the embedded NATS server only; with server.natsUrl set the NATS servers' own jetstream key encrypts the store")
	}
	if r := d.TranscriptRetentionDays; r < 0 || r > MaxRetentionDays {
		p.addf("dataAtRest.transcriptRetentionDays", "%d must be 0..%d days", r, MaxRetentionDays)
	}
}
