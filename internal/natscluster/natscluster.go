// Package natscluster starts real nats-server processes, built from the
// nats-server/v2 module this repository requires, as one JetStream cluster
// on 127.0.0.1 with random ports: the NATS cluster of the cluster-mode
// tests, benchmarks and the examples/cluster demo.
//
// Each server runs with JetStream on file storage, sync_interval always
// (fsync before acknowledging) and max_payload large enough for the
// journal's biggest entry.
package natscluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/omniroute/omniroute/internal/freeport"
	"github.com/omniroute/omniroute/journal/natsjournal"
)

// Build compiles nats-server from the module into dir and returns the
// binary's path. It runs "go build" in moduleDir (any directory of this
// module, so the version is the one go.mod pins).
func Build(moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "nats-server")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("natscluster: build nats-server: %v\n%s", err, out)
	}
	return bin, nil
}

// Server is one nats-server process of a Cluster.
type Server struct {
	Name string
	// ClientPort and ClusterPort are fixed for the server's life, so a
	// restarted server rejoins with the same address.
	ClientPort, ClusterPort int
	dir                     string
	conf                    string

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan struct{}
}

// URL is the server's client URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.ClientPort) }

// Cluster is a running NATS cluster.
type Cluster struct {
	cmd     []string // the server command: a nats-server binary, or omniroute nats-server
	Servers []*Server
}

// Start starts n servers of the binary bin with their stores under dir
// and waits until JetStream has a meta leader. Errors: ports, processes,
// or a cluster not formed within 60 s (every server is stopped then).
func Start(bin, dir string, n int) (*Cluster, error) {
	return StartCommand([]string{bin}, dir, n, false)
}

// StartCommand is Start with the server command cmd: a nats-server binary
// and its leading arguments (["omniroute", "nats-server"] runs the server
// the omniroute binary embeds); "-c <config>" is appended. noAdvertise sets
// the cluster's no_advertise, so clients learn no other server than the
// ones they were given.
func StartCommand(cmd []string, dir string, n int, noAdvertise bool) (*Cluster, error) {
	if len(cmd) == 0 {
		return nil, errors.New("natscluster: no server command")
	}
	ports, err := freeport.Ports(2 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{cmd: cmd}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[2*i+1]))
	}
	for i := range n {
		s := &Server{Name: fmt.Sprintf("nats%d", i+1), ClientPort: ports[2*i], ClusterPort: ports[2*i+1],
			dir: filepath.Join(dir, fmt.Sprintf("nats%d", i+1))}
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return nil, err
		}
		s.conf = filepath.Join(s.dir, "nats.conf")
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
max_payload: %d
jetstream {
  store_dir: %q
  sync_interval: always
}
cluster {
  name: omniroute
  listen: 127.0.0.1:%d
  routes: [%s]
  no_advertise: %t
}
`, s.Name, s.ClientPort, natsjournal.RequiredMaxPayload, filepath.Join(s.dir, "js"), s.ClusterPort, strings.Join(routes, ", "), noAdvertise)
		if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		if err := s.start(cmd); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if err := c.WaitReady(60 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// URLs is every server's client URL, comma-separated (a --nats-url value).
func (c *Cluster) URLs() string {
	var u []string
	for _, s := range c.Servers {
		u = append(u, s.URL())
	}
	return strings.Join(u, ",")
}

// WaitReady waits until a JetStream request through every running server
// succeeds (the meta leader is elected and reachable).
func (c *Cluster) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for _, s := range c.Servers {
		if !s.Running() {
			continue
		}
		for {
			last = ping(s.URL())
			if last == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("natscluster: %s not ready: %v\n%s", s.Name, last, s.Logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func ping(url string) error {
	nc, err := nats.Connect(url, nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return err
	}
	_, err = js.AccountInfo(nats.MaxWait(2 * time.Second))
	return err
}

func (s *Server) start(command []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = &bytes.Buffer{}
	cmd := exec.Command(command[0], append(command[1:len(command):len(command)], "-c", s.conf)...)
	cmd.Stdout, cmd.Stderr = lockedWriter{&s.mu, s.logs}, lockedWriter{&s.mu, s.logs}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("natscluster: start %s: %w", s.Name, err)
	}
	s.cmd = cmd
	done := make(chan struct{})
	s.done = done
	go func() { _ = cmd.Wait(); close(done) }()
	return nil
}

// Restart starts a stopped server again on its ports and store.
func (c *Cluster) Restart(s *Server) error {
	if s.Running() {
		return errors.New("natscluster: " + s.Name + " is running")
	}
	return s.start(c.cmd)
}

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Kill stops the server with sig (SIGKILL: a crash; SIGTERM: a clean
// stop) and waits for it to exit.
func (s *Server) Kill(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || done == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Logs returns what the server printed.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs == nil {
		return ""
	}
	return s.logs.String()
}

// Stop ends every server (SIGTERM, then SIGKILL after 15 s).
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, s := range c.Servers {
		wg.Add(1)
		go func() { defer wg.Done(); s.Kill(syscall.SIGTERM) }()
	}
	wg.Wait()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Bounded: a long run must not grow without limit.
	if w.b.Len() > 4<<20 {
		w.b.Reset()
	}
	return w.b.Write(p)
}

// Signal sends sig to the server without waiting (SIGSTOP freezes it, a
// partition as its clients see it; SIGCONT thaws it).
func (s *Server) Signal(sig syscall.Signal) error {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return errors.New("natscluster: " + s.Name + " not started")
	}
	return cmd.Process.Signal(sig)
}
