package target_test

import (
	"fmt"

	"github.com/omniroute/omniroute/routing/target"
)

// Example parses a GMS _target option with a group and a skill expression,
// then matches two agents against the skill target.
func Example() {
	l, err := target.Parse("Billing@StatServer.GA, ?:English=20 & (Loans>1 | Mortgages)@StatServer.GA")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range l {
		fmt.Printf("%s on %s, type %s, skill target %v\n", t.Name, t.StatServer, t.Type, t.Expr != nil)
	}
	match := l[1].Matcher()
	fmt.Println(match(map[string]int{"English": 25, "Loans": 2}))
	fmt.Println(match(map[string]int{"English": 10, "Mortgages": 1}))
	fmt.Println(l)
	// Output:
	// Billing on StatServer, type GA, skill target false
	// English=20&(Loans>1|Mortgages) on StatServer, type GA, skill target true
	// true
	// false
	// Billing@StatServer.GA,?:English=20&(Loans>1|Mortgages)@StatServer.GA
}

// ExampleParse_error shows the position a parse error names.
func ExampleParse_error() {
	_, err := target.Parse("?:English=20&&Loans=2@StatServer.GA")
	fmt.Println(err)
	// Output:
	// target: position 13: expected a skill name, '!' or '(', found '&'
}
