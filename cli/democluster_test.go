package cli_test

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoCluster runs `omniroute demo --cluster 3` as a user does: three
// NATS servers (the binary's own, hidden nats-server command) and three
// nodes start, one leads; "k" on stdin SIGKILLs the leader, another node
// takes over, the killed one comes back as a follower; Ctrl-C stops it all.
func TestDemoCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nats-server and omniroute processes")
	}
	bin := filepath.Join(t.TempDir(), "omniroute")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/omniroute").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "demo", "--cluster", "3")
	stdin, _ := cmd.StdinPipe()
	stdout, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); pw.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	var seen []string
	wait := func(re *regexp.Regexp) []string {
		t.Helper()
		deadline := time.After(2 * time.Minute)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("demo ended before %s:\n%s", re, strings.Join(seen, "\n"))
				}
				seen = append(seen, l)
				if m := re.FindStringSubmatch(l); m != nil {
					return m
				}
			case <-deadline:
				t.Fatalf("no %s within 2 minutes:\n%s", re, strings.Join(seen, "\n"))
			}
		}
	}
	for _, n := range []string{"node1", "node2", "node3"} {
		wait(regexp.MustCompile(`^` + n + `\s+http://127\.0\.0\.1:\d+\s+pid \d+`))
	}
	first := wait(regexp.MustCompile(`leader (node\d) .*term (\d+)\)`))
	if _, err := stdin.Write([]byte("k\n")); err != nil {
		t.Fatal(err)
	}
	wait(regexp.MustCompile(`killed the leader ` + first[1]))
	next := wait(regexp.MustCompile(`leader (node\d) .*term (\d+)\); failover took (\S+)`))
	if next[1] == first[1] {
		t.Fatalf("the killed leader %s leads again", first[1])
	}
	wait(regexp.MustCompile(first[1] + ` restarted as a follower`))
	t.Logf("demo: %s led, was killed; %s took over in %s (term %s -> %s)", first[1], next[1], next[3], first[2], next[2])
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("demo exited with %v", waitErr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("demo did not stop within 60 s of Ctrl-C")
	}
}
