// Package localcluster runs a whole omniroute cluster on 127.0.0.1 for
// people to try cluster mode (`omniroute demo --cluster 3`, `go run
// ./examples/cluster`): N nats-server processes forming one JetStream
// cluster (package natscluster) and N `omniroute serve --cluster` nodes,
// with free ports. It prints every URL, then one line per change of
// leader; a line "k" on Options.Commands SIGKILLs the leader (a crash: no
// resignation) and, once a follower leads, starts the killed node again as
// a follower.
package localcluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/omniroute/omniroute/internal/freeport"
	"github.com/omniroute/omniroute/internal/natscluster"
)

// Options configure Run.
type Options struct {
	// Nodes is how many NATS servers and omniroute nodes run (default 3).
	Nodes int
	// Name is the cluster name (default "demo").
	Name string
	// NATSCommand runs one NATS server; "-c <config>" is appended
	// (natscluster.StartCommand). Required.
	NATSCommand []string
	// OmnirouteCommand runs omniroute; "serve --cluster ..." is appended.
	// Required.
	OmnirouteCommand []string
	// Dir holds the stores and logs (required; Run does not remove it).
	Dir string
	// Out gets the URLs and the leader changes (default os.Stdout).
	Out io.Writer
	// Commands, if set, is read line by line: "k" (or "kill") kills the
	// leader.
	Commands io.Reader
	// AdminToken reads /v1/cluster (the embedded example config's token).
	AdminToken string
}

// ReadyTimeout bounds how long one node may take to answer /readyz.
const ReadyTimeout = 60 * time.Second

type member struct {
	id, url, logPath string
	args             []string
	cmd              *exec.Cmd
	exited           chan struct{}
}

// Run starts the cluster and serves until ctx ends, then stops every
// process. Errors: a process that cannot start, a node not ready within
// ReadyTimeout.
func Run(ctx context.Context, o Options) error {
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	if o.Name == "" {
		o.Name = "demo"
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if len(o.NATSCommand) == 0 || len(o.OmnirouteCommand) == 0 || o.Dir == "" {
		return errors.New("localcluster: NATSCommand, OmnirouteCommand and Dir are required")
	}
	nc, err := natscluster.StartCommand(o.NATSCommand, filepath.Join(o.Dir, "nats"), o.Nodes, false)
	if err != nil {
		return err
	}
	defer nc.Stop()
	for _, s := range nc.Servers {
		fmt.Fprintf(o.Out, "%s    %s\n", s.Name, s.URL())
	}
	var ms []*member
	defer func() {
		for _, m := range ms {
			m.stop(syscall.SIGTERM)
		}
	}()
	for i := range o.Nodes {
		addr, err := freeport.Addr()
		if err != nil {
			return err
		}
		id := fmt.Sprintf("node%d", i+1)
		m := &member{id: id, url: "http://" + addr, logPath: filepath.Join(o.Dir, id+".log"),
			args: append(o.OmnirouteCommand[1:len(o.OmnirouteCommand):len(o.OmnirouteCommand)],
				"serve", "--cluster", o.Name, "--node-id", id, "--nats-url", nc.URLs(),
				"--listen", addr, "--data-dir", filepath.Join(o.Dir, id))}
		ms = append(ms, m)
		if err := m.start(o.OmnirouteCommand[0]); err != nil {
			return err
		}
		if err := m.waitReady(ctx); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "%s    %s    pid %d    log %s\n", id, m.url, m.cmd.Process.Pid, m.logPath)
	}
	fmt.Fprintf(o.Out, "\nevery node serves the whole API: wallboard %s/, agent desk %s/desk, REST %s/v1\n", ms[0].url, ms[0].url, ms[0].url)
	fmt.Fprintf(o.Out, "status: omniroute cluster status --cluster %s --nats-url %s\n", o.Name, nc.URLs())
	fmt.Fprintln(o.Out, "type k and Enter (or kill -9 the leader's pid) to see a failover; Ctrl-C stops the cluster")

	kills := make(chan struct{}, 1)
	if o.Commands != nil {
		go func() {
			sc := bufio.NewScanner(o.Commands)
			for sc.Scan() {
				if c := strings.TrimSpace(sc.Text()); c == "k" || c == "kill" {
					select {
					case kills <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	var (
		last     *member
		lastTerm uint64
		lostAt   time.Time
		killed   *member
		bin      = o.OmnirouteCommand[0]
		tick     = time.NewTicker(200 * time.Millisecond)
		stamp    = func() string { return time.Now().Format("15:04:05.000") }
	)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kills:
			if last == nil || killed != nil {
				fmt.Fprintf(o.Out, "%s  no leader to kill yet\n", stamp())
				continue
			}
			killed, lostAt = last, time.Now()
			pid := last.cmd.Process.Pid
			last.stop(syscall.SIGKILL)
			fmt.Fprintf(o.Out, "%s  killed the leader %s (pid %d, SIGKILL)\n", stamp(), last.id, pid)
			continue
		case <-tick.C:
		}
		leaderOf, termOf := leader(ms, o.AdminToken)
		switch {
		case leaderOf == nil && last != nil:
			if lostAt.IsZero() {
				lostAt = time.Now()
			}
			fmt.Fprintf(o.Out, "%s  no leader (election under way)\n", stamp())
		case leaderOf != nil && (leaderOf != last || termOf != lastTerm):
			took := ""
			if !lostAt.IsZero() {
				took = fmt.Sprintf("; failover took %s", time.Since(lostAt).Round(10*time.Millisecond))
			}
			fmt.Fprintf(o.Out, "%s  leader %s (%s, pid %d, term %d)%s\n", stamp(), leaderOf.id, leaderOf.url, leaderOf.cmd.Process.Pid, termOf, took)
			lostAt = time.Time{}
			if killed != nil {
				if err := killed.start(bin); err != nil {
					return err
				}
				if err := killed.waitReady(ctx); err != nil {
					return err
				}
				fmt.Fprintf(o.Out, "%s  %s restarted as a follower (pid %d)\n", stamp(), killed.id, killed.cmd.Process.Pid)
				killed = nil
			}
		}
		last, lastTerm = leaderOf, termOf
	}
}

// leader is the node reporting itself leader, with its term (the highest
// term when a deposed one has not noticed yet).
func leader(ms []*member, token string) (*member, uint64) {
	var l *member
	var term uint64
	for _, m := range ms {
		if r, t := m.role(token); r == "leader" && t > term {
			l, term = m, t
		}
	}
	return l, term
}

func (m *member) start(bin string) error {
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, m.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("localcluster: start %s: %w", m.id, err)
	}
	m.cmd, m.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(m.exited) }()
	return nil
}

// stop signals the node and waits for it (SIGKILL after 15 s).
func (m *member) stop(sig syscall.Signal) {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(sig)
	select {
	case <-m.exited:
	case <-time.After(15 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

func (m *member) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(ReadyTimeout)
	c := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if r, err := c.Get(m.url + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-m.exited:
			return fmt.Errorf("localcluster: %s exited (log %s)", m.id, m.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("localcluster: %s not ready within %s (log %s)", m.id, ReadyTimeout, m.logPath)
}

// role reads the node's /v1/cluster: its role and term ("" when it does
// not answer).
func (m *member) role(token string) (string, uint64) {
	select {
	case <-m.exited:
		return "", 0
	default:
	}
	req, _ := http.NewRequest("GET", m.url+"/v1/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	c := &http.Client{Timeout: 500 * time.Millisecond}
	r, err := c.Do(req)
	if err != nil {
		return "", 0
	}
	defer r.Body.Close()
	var v struct {
		Role string
		Term uint64
	}
	if r.StatusCode != http.StatusOK || json.NewDecoder(r.Body).Decode(&v) != nil {
		return "", 0
	}
	return v.Role, v.Term
}
