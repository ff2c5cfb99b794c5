package memjournal_test

import (
	"testing"

	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/journal/journaltest"
	"github.com/omniroute/omniroute/journal/memjournal"
)

func TestAcceptance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) journal.Journal {
		j := memjournal.New()
		// The suite closes the journal in one subtest; a second Close then
		// reports ErrClosed, which is expected and ignored here.
		t.Cleanup(func() { _ = j.Close() })
		return j
	})
}
