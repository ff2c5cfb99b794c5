package server_test

import (
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestClusterRevokeTokens: on a three-node cluster (real nats-server and
// omniroute processes), an admin's revocation through node A refuses the
// agent's token on B and C; a LOGOUT through A refuses the agent's token
// on every node, and a login made after it keeps working on every node
// (each node records the LOGOUT, at the first recorder's time); node B
// restarted still refuses the revoked token.
func TestClusterRevokeTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nats-server and omniroute processes")
	}
	e := startClusterEnv(t, false)
	a, b, c := e.nodes[0], e.nodes[1], e.nodes[2]
	base := func(n *omniNode) string { return "http://" + n.addr }
	me := func(n *omniNode, tok string) int {
		st, _ := request(http.DefaultClient, base(n), "GET", "/v1/me", tok, "")
		return st
	}
	// waitStatus waits until every node in ns answers /v1/me with want.
	waitStatus := func(what, tok string, want int, ns ...*omniNode) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for _, n := range ns {
			for st := me(n, tok); st != want; st = me(n, tok) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s answers %d, want %d within 30 s", what, n.id, st, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}

	alice := login(t, base(a), "alice", "alice-pass")
	waitStatus("alice's token", alice, 200, a, b, c)
	do(t, base(a), "POST", "/v1/agents/alice/revoke-tokens", adminToken, "", http.StatusNoContent)
	waitStatus("admin revocation through A", alice, http.StatusUnauthorized, a, b, c)

	bob := login(t, base(b), "bob", "bob-pass")
	do(t, base(a), "PUT", "/v1/agents/bob/state", bob, `{"state":"READY"}`, 200)
	do(t, base(a), "PUT", "/v1/agents/bob/state", bob, `{"state":"LOGOUT"}`, 200)
	waitStatus("bob's LOGOUT through A", bob, http.StatusUnauthorized, a, b, c)
	// The revocation is in force (the nodes share this machine's clock):
	// the next login is issued after its millisecond.
	pastMilli(time.Now())
	again := login(t, base(c), "bob", "bob-pass")
	for _, n := range []*omniNode{a, b, c} {
		if st := me(n, again); st != 200 {
			t.Errorf("bob's login after the LOGOUT: %s answers %d", n.id, st)
		}
	}

	e.stop(b, syscall.SIGTERM)
	e.start(b)
	e.waitReady(b)
	if st := me(b, alice); st != http.StatusUnauthorized {
		t.Errorf("restarted node B answers %d to the revoked token, want 401", st)
	}
	if st := me(b, again); st != 200 {
		t.Errorf("restarted node B answers %d to bob's later token", st)
	}
}
