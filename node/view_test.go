package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/routing"
)

// A View whose ctx ends while its fn waits in the inbox returns the ctx's
// error, and its fn never runs afterwards: the caller may read what fn
// would have written (extrouting's queue cache did, and -race saw the
// writer's late write).
func TestViewGivenUpNeverRuns(t *testing.T) {
	n, err := Open(context.Background(), Config{Journal: memjournal.New(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	// Hold the writer inside a first View.
	holding, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- n.View(context.Background(), func(routing.View) {
			close(holding)
			<-release
		})
	}()
	<-holding

	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	second := make(chan error, 1)
	go func() { second <- n.View(ctx, func(routing.View) { ran = true }) }()
	for len(n.inbox) == 0 { // the second View's op is queued behind the first
		select {
		case err := <-second:
			t.Fatalf("second View returned before it was queued: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("second View: %v, want context.Canceled", err)
	}
	saw := ran // read as the caller would, with the writer free to go on
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// A third View is answered after the writer took the second op.
	if err := n.View(context.Background(), func(routing.View) {}); err != nil {
		t.Fatal(err)
	}
	if saw || ran {
		t.Fatalf("the given-up View's fn ran (before return: %v, after: %v)", saw, ran)
	}
}
