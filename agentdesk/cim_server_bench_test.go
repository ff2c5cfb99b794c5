package agentdesk_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omniroute/omniroute/agentdesk"
	"github.com/omniroute/omniroute/agentdesk/deskclient"
)

// BenchmarkCIMFanoutServer is BenchmarkCIMFanout with the server in its own
// process (agentdesk/internal/benchserver, built here with go build: the
// fixture, cimAgents agents with one ACTIVE chat each, the JetStream
// transcript on an embedded NATS server) and the cimAgents deskclient
// connections in the benchmark's process, so the server's memory is
// measured alone:
//
//	go test ./agentdesk -run '^$' -bench BenchmarkCIMFanoutServer -benchtime 5000x
//
// CIMBENCH_PROFILES=<dir> saves the server's heap profiles before (heap0.pprof)
// and after connecting (heap.pprof, goroutine.pprof).
//
// rss-KiB/conn is the growth of the server's VmRSS (/proc/<pid>/status)
// from before the first dial to one second after the last, divided by
// cimAgents; live-KiB/conn the same with a forced GC and
// debug.FreeOSMemory in the server before each reading (POST /gc), i.e.
// without the garbage the collector has not returned yet. Latency as in
// BenchmarkCIMFanout, at cimRate messages per second.
// CIMBENCH_MEMORY=1 uses the in-memory transcript store.
func BenchmarkCIMFanoutServer(b *testing.B) {
	cimServerOnce.Do(func() { cimServer, cimServerErr = setupCIMServerBench() })
	if cimServerErr != nil {
		b.Fatal(cimServerErr)
	}
	cimServer.measure(b)
	b.ReportMetric(cimServer.rssPerKB, "rss-KiB/conn")
	b.ReportMetric(cimServer.livePerKB, "live-KiB/conn")
	b.ReportMetric(cimServer.heapPerKB, "heap-KiB/conn")
	b.ReportMetric(cimServer.stackPerKB, "stack-KiB/conn")
}

var (
	cimServerOnce sync.Once
	cimServer     *cimServerEnv
	cimServerErr  error
)

type cimServerEnv struct {
	cimBenchEnv
	livePerKB float64
	// heapPerKB and stackPerKB split the growth (runtime.MemStats
	// HeapInuse and StackInuse after a GC).
	heapPerKB, stackPerKB float64
}

// procRSSKiB is VmRSS of process pid.
func procRSSKiB(pid int) (float64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseFloat(strings.Fields(v)[0], 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func setupCIMServerBench() (*cimServerEnv, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "omniroute-benchserver-bin-")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "benchserver")
	build := exec.Command("go", "build", "-o", bin, "./agentdesk/internal/benchserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build benchserver: %v\n%s", err, out)
	}
	args := []string{"-agents", strconv.Itoa(cimAgents)}
	if os.Getenv("CIMBENCH_MEMORY") != "" {
		args = append(args, "-memory")
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &cimServerEnv{}
	prev := benchCloser
	benchCloser = func() {
		if prev != nil {
			prev()
		}
		for _, c := range e.conns {
			if c != nil {
				_ = c.Close()
			}
		}
		_ = stdin.Close() // the server stops at end of stdin
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = os.RemoveAll(dir)
	}
	listen := regexp.MustCompile(`^LISTEN (\S+)$`)
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listen.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var url string
	select {
	case url = <-urlc:
	case <-time.After(5 * time.Minute):
		return nil, fmt.Errorf("benchserver did not print LISTEN")
	}
	pid := cmd.Process.Pid
	type memStats struct{ HeapInuse, StackInuse, Goroutines float64 }
	gc := func() (memStats, error) {
		var m memStats
		resp, err := http.Post(url+"/gc", "", nil)
		if err != nil {
			return m, err
		}
		defer resp.Body.Close()
		err = json.NewDecoder(resp.Body).Decode(&m)
		return m, err
	}

	m0, err := gc()
	if err != nil {
		return nil, err
	}
	if err := saveProfiles(url, "0", "heap"); err != nil {
		return nil, err
	}
	live0, err := procRSSKiB(pid)
	if err != nil {
		return nil, err
	}
	e.conns = make([]*deskclient.Conn, cimAgents)
	var (
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 32)
		mu    sync.Mutex
		first error
	)
	for i := range cimAgents {
		id := fmt.Sprintf("c%04d", i)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			dctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := deskclient.Dial(dctx, url, "", map[string]any{"agent": id, "fcm": "", "token": "token-" + id},
				deskclient.WithHandler(agentdesk.EventOnCimEvent, e.onCimEvent))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmp.Or(first, fmt.Errorf("dial %s: %w", id, err))
				return
			}
			e.conns[i] = c
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	// Every dial has returned: this is no synchronization but the pause a
	// memory reading takes after a burst of connections, so the RSS is the
	// idle desks' and not the dials' passing garbage.
	time.Sleep(time.Second)
	rss1, err := procRSSKiB(pid)
	if err != nil {
		return nil, err
	}
	m1, err := gc()
	if err != nil {
		return nil, err
	}
	live1, err := procRSSKiB(pid)
	if err != nil {
		return nil, err
	}
	if err := saveProfiles(url, "", "heap", "goroutine"); err != nil {
		return nil, err
	}
	// live0 is the floor after a GC; rss1 was read without one.
	e.rssPerKB = (rss1 - live0) / cimAgents
	e.livePerKB = (live1 - live0) / cimAgents
	e.heapPerKB = (m1.HeapInuse - m0.HeapInuse) / 1024 / cimAgents
	e.stackPerKB = (m1.StackInuse - m0.StackInuse) / 1024 / cimAgents
	fmt.Fprintf(os.Stderr, "benchserver pid %d VmRSS KiB: %.0f before (after GC), %.0f with %d connections, %.0f after GC; "+
		"per connection: heap %.1f KiB, stacks %.1f KiB, goroutines %.2f\n",
		pid, live0, rss1, cimAgents, live1, e.heapPerKB, e.stackPerKB, (m1.Goroutines-m0.Goroutines)/cimAgents)
	return e, nil
}

// saveProfiles writes the server's pprof profiles to $CIMBENCH_PROFILES/<name><suffix>.pprof
// when that variable is set (compare with go tool pprof -diff_base heap0.pprof heap.pprof).
func saveProfiles(url, suffix string, names ...string) error {
	dir := os.Getenv("CIMBENCH_PROFILES")
	if dir == "" {
		return nil
	}
	for _, p := range names {
		resp, err := http.Get(url + "/debug/pprof/" + p)
		if err != nil {
			return err
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := os.WriteFile(filepath.Join(dir, p+suffix+".pprof"), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
