package socketio

import (
	"slices"
	"testing"
)

// TestRoomListToSet: a room keeps its members as a list up to roomListMax
// and as a set past it; either way it has each member once and loses
// exactly the ones removed.
func TestRoomListToSet(t *testing.T) {
	socks := make([]*Socket, 3*roomListMax)
	for i := range socks {
		socks[i] = &Socket{id: string(rune('a' + i))}
	}
	members := func(r room) []*Socket {
		var out []*Socket
		r.each(func(sk *Socket) { out = append(out, sk) })
		slices.SortFunc(out, func(a, b *Socket) int { return slices.Index(socks, a) - slices.Index(socks, b) })
		return out
	}
	var r room
	for i, sk := range socks {
		if r.has(sk) {
			t.Fatalf("socket %d in the room before it joined", i)
		}
		r = r.with(sk)
		if !r.has(sk) || r.len() != i+1 {
			t.Fatalf("after %d joined: has %v, len %d", i+1, r.has(sk), r.len())
		}
		if set := r.set != nil; set != (i+1 > roomListMax) {
			t.Fatalf("%d members: kept as a set %v", i+1, set)
		}
	}
	if got := members(r); !slices.Equal(got, socks) {
		t.Fatalf("members %d, want %d", len(got), len(socks))
	}
	var left []*Socket
	for i, sk := range socks {
		if i%3 == 0 {
			r = r.without(sk)
		} else {
			left = append(left, sk)
		}
	}
	r = r.without(&Socket{}) // never joined: nothing changes
	if got := members(r); !slices.Equal(got, left) {
		t.Fatalf("after leaving: %d members, want %d", len(got), len(left))
	}

	// A small room's list: removing from the middle keeps the others.
	var small room
	for _, sk := range socks[:3] {
		small = small.with(sk)
	}
	small = small.without(socks[1])
	if got := members(small); !slices.Equal(got, []*Socket{socks[0], socks[2]}) || small.has(socks[1]) {
		t.Fatalf("small room after a leave: %v", got)
	}
}
