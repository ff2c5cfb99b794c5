package target

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error is a
// *ParseError with a position inside the input (or at its end), and that
// every accepted string prints to a string that parses back to an equal
// List, whose matchers agree with Match.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Billing@StatServer.GA", "?:English=20&Loans=2@StatServer.GA", "a@b@S.S.Q, x@y.DN",
		"?:!(a|b>2)&c<=3|d!=4@S.GA", "?:((a))@S.GA", "", ",", "?:", "@.", "?:a=@S.GA", "é@S.A",
		"?:a&(b&(c|!d))@S.GA,z@S.RP,l@S.DL,g@S.GC,p@S.AP,gp@S.GP",
	} {
		f.Add(s)
	}
	skills := []map[string]int{nil, {"a": 1}, {"a": 5, "b": 3, "c": 0, "d": 100, "English": 20, "Loans": 2}}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("%q: error %T %v is not a *ParseError", s, err, err)
			}
			if pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("%q: position %d outside the input", s, pe.Pos)
			}
			return
		}
		if len(l) == 0 || len(l) > MaxTargets {
			t.Fatalf("%q: %d targets", s, len(l))
		}
		out := l.String()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, out, err)
		}
		if !reflect.DeepEqual(again, l) {
			t.Fatalf("%q printed as %q, which parses differently:\n%#v\n%#v", s, out, l, again)
		}
		if again.String() != out {
			t.Fatalf("String() is not stable: %q then %q", out, again.String())
		}
		for _, tg := range l {
			if tg.Expr == nil {
				continue
			}
			m := tg.Matcher()
			for _, sk := range skills {
				if m(sk) != tg.Expr.Match(sk) {
					t.Fatalf("%q: Matcher and Match disagree on %v", s, sk)
				}
			}
		}
	})
}
