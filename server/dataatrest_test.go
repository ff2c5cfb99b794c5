package server_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/journal/natsjournal"
	"github.com/omniroute/omniroute/server"
)

// startWith starts a quiet server with examples/omniroute.yaml changed by
// edit, on a random loopback port and data directory dir.
func startWith(ctx context.Context, dir string, edit func(*config.Config)) (*server.Server, error) {
	cfg, err := config.Load(filepath.Join("..", "examples", "omniroute.yaml"))
	if err != nil {
		return nil, err
	}
	if edit != nil {
		edit(cfg)
	}
	return server.Start(ctx, server.Options{Config: cfg, Listen: "127.0.0.1:0", DataDir: dir,
		Logger: slog.New(slog.DiscardHandler)})
}

// filesHolding returns the files under dir whose raw bytes contain needle.
func filesHolding(t *testing.T, dir string, needle string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(needle)) {
			rel, _ := filepath.Rel(dir, path)
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func writeKey(t *testing.T, name, key string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEncryptionAtRest (issue 13 item 6): a conversation attribute is
// found by a grep of the raw files of a plaintext store (so the grep can
// see data), and is in no file of a store encrypted with
// dataAtRest.encryptionKeyFile; the encrypted store recovers its state
// after a restart with the key, refuses to start without it or with
// another key, and rotates to a new key through previousEncryptionKeyFile.
func TestEncryptionAtRest(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	const marker = "IBAN-DE89370400440532013000-atrest"
	create := func(srv *server.Server) string {
		t.Helper()
		st, b := call(t, "POST", srv.URL()+"/v1/conversations", "dev-admin-token",
			`{"queue":"chat-sales","attributes":{"note":"`+marker+`"}}`)
		if st != 201 {
			t.Fatalf("create conversation: %d %s", st, b)
		}
		id := string(b[strings.Index(string(b), `"id":"`)+6:])
		return id[:strings.IndexByte(id, '"')]
	}
	holds := func(srv *server.Server, id string) bool {
		t.Helper()
		st, b := call(t, "GET", srv.URL()+"/v1/conversations/"+id, "dev-admin-token", "")
		return st == 200 && bytes.Contains(b, []byte(marker))
	}

	plain := t.TempDir()
	srv, err := startWith(ctx, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	create(srv)
	srv.Close()
	if got := filesHolding(t, plain, marker); len(got) == 0 {
		t.Fatal("plaintext store: the attribute is in no file, so the grep below proves nothing")
	} else {
		t.Logf("plaintext store: the attribute is in %v", got)
	}

	key := writeKey(t, "key", "0123456789abcdef0123456789abcdef-first")
	withKey := func(k, prev string) func(*config.Config) {
		return func(c *config.Config) {
			c.DataAtRest.EncryptionKeyFile, c.DataAtRest.PreviousEncryptionKeyFile = k, prev
		}
	}
	enc := t.TempDir()
	srv, err = startWith(ctx, enc, withKey(key, ""))
	if err != nil {
		t.Fatal(err)
	}
	id := create(srv)
	srv.Close()
	if got := filesHolding(t, enc, marker); len(got) > 0 {
		t.Fatalf("encrypted store: the attribute is in plaintext in %v", got)
	}
	if srv, err = startWith(ctx, enc, withKey(key, "")); err != nil {
		t.Fatal(err)
	}
	if !holds(srv, id) {
		t.Fatal("after a restart with the key the conversation is not recovered")
	}
	srv.Close()

	other := writeKey(t, "other", "another-key-of-at-least-32-bytes-long")
	for name, edit := range map[string]func(*config.Config){"no key": nil, "another key": withKey(other, "")} {
		if srv, err := startWith(ctx, enc, edit); !errors.Is(err, natsjournal.ErrEncryptionKey) {
			if err == nil {
				srv.Close()
			}
			t.Fatalf("%s: start = %v, want ErrEncryptionKey", name, err)
		}
	}
	if got := filesHolding(t, enc, marker); len(got) > 0 {
		t.Fatalf("refused starts wrote plaintext in %v", got)
	}

	// Rotation: the new key with the old one as previous, then the new
	// key alone.
	if srv, err = startWith(ctx, enc, withKey(other, key)); err != nil {
		t.Fatal(err)
	}
	if !holds(srv, id) {
		t.Fatal("during the rotation the conversation is not recovered")
	}
	srv.Close()
	if srv, err = startWith(ctx, enc, withKey(other, "")); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !holds(srv, id) {
		t.Fatal("after the rotation the conversation is not recovered with the new key alone")
	}
	if _, err := startWith(ctx, t.TempDir(), withKey(writeKey(t, "short", "short"), "")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}
