// Package freeport picks loopback TCP ports for the processes tests start
// (an omniroute serve, a nats-server) that must be told their port before
// they bind it.
//
// The usual trick, listening on port 0 and closing the listener, hands out
// a port from the kernel's ephemeral range, and while the child process
// starts, any outgoing connection on the machine may take that very port as
// its local port ("bind: address already in use" in the child). The ports
// here come from below the ephemeral range (net.ipv4.ip_local_port_range),
// which the kernel never hands to a port-0 listener or an outgoing
// connection, and each was free when it was picked.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Lowest is the lowest port handed out: below it are the registered
// services a developer machine may run.
const Lowest = 10_000

// ErrNone: no free port was found below the ephemeral range.
var ErrNone = errors.New("freeport: no free port below the ephemeral range")

// Ports returns n distinct ports on 127.0.0.1 that were free when picked,
// from Lowest up to the start of the ephemeral range (32768 when it cannot
// be read). Errors: ErrNone after many ports in a row were taken.
func Ports(n int) ([]int, error) {
	hi := ephemeralLow() - 1
	if hi <= Lowest {
		return nil, fmt.Errorf("freeport: the ephemeral range starts at %d: %w", hi+1, ErrNone)
	}
	var held []net.Listener // kept open until all are picked: distinct ports
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, ErrNone
		}
		p := Lowest + rand.IntN(hi-Lowest+1)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		held = append(held, l)
		ports = append(ports, p)
	}
	return ports, nil
}

// Addr returns "127.0.0.1:N" for one port of Ports.
func Addr() (string, error) {
	p, err := Ports(1)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p[0])), nil
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= 0 {
		return 32768
	}
	return lo
}
