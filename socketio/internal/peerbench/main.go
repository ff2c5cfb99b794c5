// Command peerbench measures a Socket.IO server in another process, given
// its URL and pid, the same way for package socketio
// (socketio/internal/benchserver) and for the socket.io 4.8.1 peer on Node
// (see docs/BENCHMARKS.md, issue 14, for the Node server's few lines):
//
//   - -conns N: connect N clients (websocket, agentdesk/deskclient), report
//     the server's VmRSS growth per connection, then its CPU over -idle
//     with every client connected and silent;
//   - -rtt M: then M emit+ack round trips ("message-with-ack"), spread over
//     the clients, -inflight per client at a time; report the server's CPU
//     seconds per 100k round trips and the wall time.
//
// Clients spread over 127.0.0.1, 127.0.0.2, ... past 28,000.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omniroute/omniroute/agentdesk/deskclient"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:3100", "server URL")
	pid := flag.Int("pid", 0, "server pid (required)")
	conns := flag.Int("conns", 1000, "clients to connect")
	idle := flag.Duration("idle", 30*time.Second, "idle measurement with all connected")
	rtt := flag.Int("rtt", 0, "emit+ack round trips after the idle phase")
	flag.Parse()
	if *pid == 0 {
		log.Fatal("-pid is required")
	}
	if err := run(*url, *pid, *conns, *idle, *rtt); err != nil {
		log.Fatal(err)
	}
}

func run(url string, pid, n int, idle time.Duration, rtt int) error {
	ctx := context.Background()
	base := rss(pid)
	cs := make([]*deskclient.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	t0 := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				dctx, cancel := context.WithTimeout(ctx, time.Minute)
				c, err := deskclient.Dial(dctx, url, "", map[string]any{"token": "t"}, deskclient.WithLocalIP(net.IPv4(127, 0, 0, byte(1+i/28000))))
				cancel()
				if err != nil {
					if failed.Add(1) < 5 {
						log.Printf("dial %d: %v", i, err)
					}
					continue
				}
				cs[i] = c
			}
		}()
	}
	wg.Wait()
	fmt.Printf("connected %d of %d in %.1f s (%d failed)\n", n-int(failed.Load()), n, time.Since(t0).Seconds(), failed.Load())
	time.Sleep(5 * time.Second)
	full := rss(pid)
	fmt.Printf("server VmRSS %.0f KiB before, %.0f KiB with %d connected: %.2f KiB per connection\n", base, full, n, (full-base)/float64(n))
	c0 := cpu(pid)
	time.Sleep(idle)
	fmt.Printf("server idle CPU over %v: %.3f%% of one core (%.3f CPU s)\n", idle, 100*(cpu(pid)-c0)/idle.Seconds(), cpu(pid)-c0)
	dropped := 0
	for _, c := range cs {
		if c != nil {
			select {
			case <-c.Done():
				dropped++
			default:
			}
		}
	}
	fmt.Printf("clients disconnected by the server while idle: %d\n", dropped)
	if rtt > 0 {
		per := rtt / n
		c0 := cpu(pid)
		t0 := time.Now()
		var wg sync.WaitGroup
		var errs atomic.Int64
		for _, c := range cs {
			if c == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range per {
					actx, cancel := context.WithTimeout(ctx, 30*time.Second)
					_, err := c.EmitWithAck(actx, "message-with-ack", map[string]any{"n": j, "text": "hello"})
					cancel()
					if err != nil {
						errs.Add(1)
						return
					}
				}
			}()
		}
		wg.Wait()
		d := time.Since(t0)
		total := per * n
		sec := cpu(pid) - c0
		fmt.Printf("round trips %d in %.2f s (%d errors): server CPU %.2f s, %.2f CPU s per 100k\n", total, d.Seconds(), errs.Load(), sec, sec*100_000/float64(total))
	}
	for _, c := range cs {
		if c != nil {
			_ = c.Close()
		}
	}
	return nil
}

func rss(pid int) float64 {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return f
		}
	}
	return 0
}

func cpu(pid int) float64 {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}
