// Command cluster starts a local omniroute cluster to try cluster mode:
// three nats-server processes (built from the nats-server/v2 module this
// repository pins) forming one JetStream cluster, and three
// `omniroute serve --cluster demo` nodes, all on 127.0.0.1 with free
// ports. It prints every node's URL and PID, then one line per change of
// leader: type k and Enter (or kill -9 the leader's PID) and watch a
// follower take over within the lease TTL (3 s). Ctrl-C stops everything.
//
//	go run ./examples/cluster
//
// `omniroute demo --cluster 3` does the same from the omniroute binary
// alone (package internal/localcluster); this program builds a real
// nats-server binary instead of the server omniroute embeds.
//
// Every node serves the whole API (REST, Agent Desk Socket.IO, CometD,
// GMS) on its own port; see docs/operations.md for a load balancer in
// front of them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/omniroute/omniroute/internal/localcluster"
	"github.com/omniroute/omniroute/internal/natscluster"
)

const adminToken = "dev-admin-token" // examples/omniroute.yaml

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "omniroute-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Println("building nats-server and omniroute ...")
	natsBin, err := natscluster.Build(".", dir)
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "omniroute")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/omniroute").CombinedOutput(); err != nil {
		return fmt.Errorf("build omniroute: %v\n%s", err, out)
	}
	return localcluster.Run(ctx, localcluster.Options{Nodes: 3, NATSCommand: []string{natsBin},
		OmnirouteCommand: []string{bin}, Dir: dir, Commands: os.Stdin, AdminToken: adminToken})
}
