package socketio

import "testing"

// BenchmarkAdmitPending: the per-address bookkeeping alone, as each
// handshake does it (admit at the open, unpend when the session joins a
// namespace): one lock, a map increment and the cap comparison, then the
// decrement. 1,000 other addresses hold pending sessions meanwhile, so the
// map is not trivially small.
func BenchmarkAdmitPending(b *testing.B) {
	s := NewServer(Options{})
	defer s.Close()
	for i := range 1000 {
		s.pending["10.0."+string(rune('a'+i%26))+"."+string(rune('a'+i/26))] = 1
	}
	b.ReportAllocs()
	for b.Loop() {
		if st, msg := s.admit("192.0.2.1"); st != 0 {
			b.Fatal(st, msg)
		}
		s.unpend("192.0.2.1")
	}
}
