package node_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/omniroute/omniroute/journal/memjournal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/routing"
)

// TestSubmitWithReadsTheCommandsOwnTurn: many submitters change one
// request's priority at once (group commit puts several in one batch).
// Each command's Before sees the priority the previous command left and
// its After the one it set, so the (before, after) pairs chain through
// every command: a read that saw another command's effect, or missed its
// own, breaks the chain.
func TestSubmitWithReadsTheCommandsOwnTurn(t *testing.T) {
	n := open(t, memjournal.New(), node.Config{})
	defer n.Close()
	submit(t, n, setup()...)
	submit(t, n, routing.CreateConversation{ID: "c", RequestID: "r", Queue: "q"}) // nobody READY: it waits
	const submitters, each = 8, 50
	priority := func(st routing.View) int {
		r, ok := st.Request("r")
		if !ok {
			return -1
		}
		return r.Priority
	}
	type pair struct{ before, after, set int }
	pairs := make([]pair, submitters*each)
	var wg sync.WaitGroup
	for g := range submitters {
		wg.Go(func() {
			for i := range each {
				k := g*each + i
				p := &pairs[k]
				p.set = k + 1 // distinct, never the initial 0
				ev, err := n.SubmitWith(context.Background(), routing.SetRequestPriority{Request: "r", Priority: p.set}, node.Reads{
					Before: func(st routing.View) { p.before = priority(st) },
					After: func(st routing.View, events []routing.Event) {
						p.after = priority(st)
						if len(events) == 0 {
							p.after = -2
						}
					},
				})
				if err != nil || len(ev) == 0 {
					t.Errorf("SubmitWith %d: %v, %d events", k, err, len(ev))
				}
			}
		})
	}
	wg.Wait()
	next := map[int]int{} // before -> after
	for _, p := range pairs {
		if p.after != p.set {
			t.Fatalf("After saw priority %d, the command set %d", p.after, p.set)
		}
		if _, dup := next[p.before]; dup {
			t.Fatalf("two commands ran on priority %d: another command ran between a Before and its command", p.before)
		}
		next[p.before] = p.after
	}
	at, steps := 0, 0
	for {
		a, ok := next[at]
		if !ok {
			break
		}
		at, steps = a, steps+1
	}
	if steps != len(pairs) {
		t.Fatalf("the reads chain through %d of %d commands", steps, len(pairs))
	}
	var last int
	if err := n.View(context.Background(), func(st routing.View) { last = priority(st) }); err != nil {
		t.Fatal(err)
	}
	if last != at {
		t.Fatalf("the last After saw %d, the state holds %d", at, last)
	}
}

// TestSubmitWithRefusal: a refused command gets no After, and its error
// is the engine's.
func TestSubmitWithRefusal(t *testing.T) {
	n := open(t, memjournal.New(), node.Config{})
	defer n.Close()
	submit(t, n, setup()...)
	after := false
	_, err := n.SubmitWith(context.Background(), routing.SetRequestPriority{Request: "none", Priority: 1}, node.Reads{
		After: func(routing.View, []routing.Event) { after = true },
	})
	var re *routing.Error
	if !errors.As(err, &re) || re.Code != routing.CodeRequestNotFound {
		t.Fatalf("err = %v, want REQUEST_NOT_FOUND", err)
	}
	if after {
		t.Fatal("After ran for a refused command")
	}
}
