package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestPorts: distinct ports, below the ephemeral range, each free to bind
// once Ports returned.
func TestPorts(t *testing.T) {
	ps, err := Ports(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ps {
		if p < Lowest || p >= ephemeralLow() {
			t.Errorf("port %d outside [%d, %d)", p, Lowest, ephemeralLow())
		}
		if seen[p] {
			t.Errorf("port %d twice", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d not free after Ports returned: %v", p, err)
			continue
		}
		l.Close()
	}
}

// TestAddrSkipsTaken: a port in use is never handed out.
func TestAddrSkipsTaken(t *testing.T) {
	for range 50 {
		a, err := Addr()
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s not free: %v", a, err)
		}
		b, err := Addr()
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		if a == b {
			t.Fatalf("Addr handed out %s while it was in use", a)
		}
	}
}
