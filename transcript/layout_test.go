package transcript

import (
	"bytes"
	"testing"
)

// FuzzDecodeMessage: any payload decodes or fails cleanly, and what
// encodeMessage writes decodes to the same records.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte("id"), []byte(`{"a":1}`), true, 3, []byte{})
	f.Add([]byte{}, []byte(`{}`), false, 1, []byte{layoutBatch, 1, 1, 0, 1, 'x', 2, '{', '}'})
	f.Add([]byte("x"), []byte(`{}`), false, 0, []byte{layoutBatch, 1, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, id, data []byte, agentsOnly bool, n int, raw []byte) {
		_ = decodeMessage(raw, func(int, string, bool, []byte) {})
		_, _ = messageCount(raw)
		n = 1 + (n&0xff)%8
		recs := make([]Record, n)
		idx := make([]int, n)
		for i := range recs {
			recs[i] = Record{ID: string(id), AgentsOnly: agentsOnly != (i%2 == 1), Data: data}
			idx[i] = i
		}
		msg := encodeMessage(42+n, recs, idx)
		if c, ok := messageCount(msg); !ok || c != 42+n {
			t.Fatalf("count %d %v, want %d", c, ok, 42+n)
		}
		got := 0
		err := decodeMessage(msg, func(i int, gid string, ao bool, body []byte) {
			if i != got || gid != recs[i].ID || ao != recs[i].AgentsOnly || !bytes.Equal(body, recs[i].Data) {
				t.Fatalf("entry %d: %q %v %q, want %+v", i, gid, ao, body, recs[i])
			}
			got++
		})
		if err != nil || got != n {
			t.Fatalf("decoded %d of %d: %v", got, n, err)
		}
	})
}

func TestChunk(t *testing.T) {
	recs := []Record{{ID: "a", Data: make([]byte, 40)}, {ID: "b", Data: make([]byte, 40)}, {ID: "c", Data: make([]byte, 40)}}
	idx := []int{0, 1, 2}
	for _, tc := range []struct{ max, budget, want int }{
		{10, 1000, 3}, {2, 1000, 2}, {10, 110, 2}, {10, 10, 1}, {1, 10, 1},
	} {
		if got := chunk(recs, idx, tc.max, tc.budget); got != tc.want {
			t.Errorf("chunk(max %d, budget %d) = %d, want %d", tc.max, tc.budget, got, tc.want)
		}
	}
}
