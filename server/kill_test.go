package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/omniroute/omniroute/internal/freeport"
	"github.com/omniroute/omniroute/internal/nodee2e"
)

const adminToken = "dev-admin-token" // examples/omniroute.yaml

// TestKill9UnderLoad starts the real binary (`omniroute serve`, embedded
// JetStream), puts it under load from concurrent REST clients, SIGKILLs it,
// restarts it on the same data directory and checks that every
// conversation the server acknowledged (201) and every task accept it
// acknowledged (200) is there.
func TestKill9UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := nodee2e.Build(t, "./cmd/omniroute")
	dataDir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr

	srv := start(t, bin, addr, dataDir)
	// alice takes chat-sales work; her accepts are acknowledged commands too.
	do(t, base, "PUT", "/v1/agents/alice/state", adminToken, `{"state":"READY"}`, 200)
	aliceToken := login(t, base, "alice", "alice-pass")

	var (
		mu       sync.Mutex
		convs    []string
		accepted []string
		closed   = map[string]bool{}
		closing  = map[string]bool{} // close sent; maybe applied, maybe not
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"queue":"chat-sales","priority":%d,"attributes":{"w":"%d"}}`, i%3, w)
				status, resp := request(client, base, "POST", "/v1/conversations", adminToken, body)
				if status != http.StatusCreated {
					continue // refused or killed: not acknowledged
				}
				var c struct{ ID string }
				json.Unmarshal(resp, &c)
				mu.Lock()
				convs = append(convs, c.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() { // alice accepts and closes what she is offered
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			status, resp := request(client, base, "GET", "/v1/tasks", aliceToken, "")
			if status != 200 {
				continue
			}
			var tl struct{ Items []struct{ ID, State string } }
			json.Unmarshal(resp, &tl)
			for _, tk := range tl.Items {
				switch tk.State {
				case "RESERVED":
					if st, _ := request(client, base, "POST", "/v1/tasks/"+tk.ID+"/accept", aliceToken, ""); st == 200 {
						mu.Lock()
						accepted = append(accepted, tk.ID)
						mu.Unlock()
					}
				case "ACTIVE":
					// Close every other accepted task, so capacity frees
					// and closes are acknowledged commands too.
					if len(tk.ID)%2 == 0 {
						mu.Lock()
						closing[tk.ID] = true
						mu.Unlock()
						if st, _ := request(client, base, "POST", "/v1/tasks/"+tk.ID+"/close", aliceToken, ""); st == 200 {
							mu.Lock()
							closed[tk.ID] = true
							mu.Unlock()
						}
					}
				}
			}
		}
	}()
	// The kill lands under load, once every kind of acknowledged command
	// has been made a few times (after 60 s without, the kill goes on and
	// the check below judges the load).
	loaded := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(convs) >= 500 && len(accepted) >= 6 && len(closed) >= 3
	}
	for deadline := time.Now().Add(60 * time.Second); !loaded() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	close(stop)
	wg.Wait()
	if len(convs) < 50 {
		t.Fatalf("only %d conversations acknowledged before the kill: load too light to mean anything", len(convs))
	}

	srv2 := start(t, bin, addr, dataDir)
	defer func() { srv2.Process.Signal(syscall.SIGTERM); srv2.Wait() }()
	for _, id := range convs {
		do(t, base, "GET", "/v1/conversations/"+id, adminToken, "", 200)
	}
	aliceToken = login(t, base, "alice", "alice-pass")
	_, resp := request(client, base, "GET", "/v1/tasks", aliceToken, "")
	var tl struct{ Items []struct{ ID, State string } }
	json.Unmarshal(resp, &tl)
	active := map[string]bool{}
	for _, tk := range tl.Items {
		if tk.State == "ACTIVE" {
			active[tk.ID] = true
		}
	}
	for _, id := range accepted {
		if !closing[id] && !active[id] {
			t.Errorf("accepted task %s is not ACTIVE after restart", id)
		}
		if closed[id] && active[id] {
			t.Errorf("closed task %s is ACTIVE again after restart", id)
		}
	}
	t.Logf("%d conversations, %d accepts and %d closes acknowledged before SIGKILL; all found after restart", len(convs), len(accepted), len(closed))
}

// freeAddr is a loopback address for a child omniroute (package freeport:
// below the ephemeral range, so no outgoing connection takes it first).
func freeAddr(t testing.TB) string {
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func start(t *testing.T, bin, addr, dataDir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data-dir", dataDir)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ := request(http.DefaultClient, "http://"+addr, "GET", "/readyz", "", ""); st == 200 {
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatalf("server not ready within 60 s:\n%s", logs.String())
	return nil
}

func request(c *http.Client, base, method, path, token, body string) (int, []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, base+path, bytes.NewBufferString(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

func do(t *testing.T, base, method, path, token, body string, want int) []byte {
	t.Helper()
	st, resp := request(http.DefaultClient, base, method, path, token, body)
	if st != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, st, resp, want)
	}
	return resp
}

func login(t *testing.T, base, user, pass string) string {
	t.Helper()
	resp := do(t, base, "POST", "/agent-manager/agent/login", "", fmt.Sprintf(`{"username":%q,"password":%q}`, user, pass), 200)
	var lr struct{ Data struct{ Token string } }
	json.Unmarshal(resp, &lr)
	return lr.Data.Token
}
