package target

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseTypes(t *testing.T) {
	for _, typ := range Types {
		s := "Billing@StatServer." + string(typ)
		l, err := Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		want := List{{Name: "Billing", StatServer: "StatServer", Type: typ}}
		if !reflect.DeepEqual(l, want) {
			t.Errorf("%s: got %+v, want %+v", s, l, want)
		}
		if l.String() != s {
			t.Errorf("%s: String() = %q", s, l.String())
		}
		if l[0].Matcher() != nil {
			t.Errorf("%s: a named target has a matcher", s)
		}
	}
}

func TestParseShapes(t *testing.T) {
	cmp := func(skill string, c Cmp, lv int) *Expr { return &Expr{Op: OpCmp, Skill: skill, Cmp: c, Level: lv} }
	and := func(x, y *Expr) *Expr { return &Expr{Op: OpAnd, X: x, Y: y} }
	or := func(x, y *Expr) *Expr { return &Expr{Op: OpOr, X: x, Y: y} }
	not := func(x *Expr) *Expr { return &Expr{Op: OpNot, X: x} }
	cases := []struct {
		in        string
		want      List
		canonical string // String() when it differs from in
	}{
		{in: "Billing@StatServer.GA", want: List{{Name: "Billing", StatServer: "StatServer", Type: AgentGroup}}},
		{in: " Sales Team @ Stat_Server_1 . Q ", want: List{{Name: "Sales Team", StatServer: "Stat_Server_1", Type: Queue}},
			canonical: "Sales Team@Stat_Server_1.Q"},
		{in: "5551234@SS.DN", want: List{{Name: "5551234", StatServer: "SS", Type: DN}}},
		{in: "a@b@Stat.Server.A", want: List{{Name: "a@b", StatServer: "Stat.Server", Type: Agent}}},
		{in: "Résumé@SS.GP", want: List{{Name: "Résumé", StatServer: "SS", Type: PlaceGroup}}},
		{in: "?:English=20&Loans=2@StatServer.GA", want: List{{Name: "English=20&Loans=2", StatServer: "StatServer", Type: AgentGroup,
			Expr: and(cmp("English", Eq, 20), cmp("Loans", Eq, 2))}}},
		{in: "?: English >= 20 | ! Loans < 3 @SS.GA", want: List{{Name: "English>=20|!Loans<3", StatServer: "SS", Type: AgentGroup,
			Expr: or(cmp("English", Ge, 20), not(cmp("Loans", Lt, 3)))}}, canonical: "?:English>=20|!Loans<3@SS.GA"},
		{in: "?:a>1&b<=2|c!=3&d@SS.GA", want: List{{Name: "a>1&b<=2|c!=3&d", StatServer: "SS", Type: AgentGroup,
			Expr: or(and(cmp("a", Gt, 1), cmp("b", Le, 2)), and(cmp("c", Ne, 3), cmp("d", Has, 0)))}}},
		{in: "?:a&(b|c)@SS.GA", want: List{{Name: "a&(b|c)", StatServer: "SS", Type: AgentGroup,
			Expr: and(cmp("a", Has, 0), or(cmp("b", Has, 0), cmp("c", Has, 0)))}}},
		{in: "?:a&(b&c)@SS.GA", want: List{{Name: "a&(b&c)", StatServer: "SS", Type: AgentGroup,
			Expr: and(cmp("a", Has, 0), and(cmp("b", Has, 0), cmp("c", Has, 0)))}}},
		{in: "?:((a))&b@SS.GA", want: List{{Name: "a&b", StatServer: "SS", Type: AgentGroup,
			Expr: and(cmp("a", Has, 0), cmp("b", Has, 0))}}, canonical: "?:a&b@SS.GA"},
		{in: "?:!(a|b)@SS.GA", want: List{{Name: "!(a|b)", StatServer: "SS", Type: AgentGroup,
			Expr: not(or(cmp("a", Has, 0), cmp("b", Has, 0)))}}},
		{in: "?:!!x_1.y-2=007@SS.GA", want: List{{Name: "!!x_1.y-2=7", StatServer: "SS", Type: AgentGroup,
			Expr: not(not(cmp("x_1.y-2", Eq, 7)))}}, canonical: "?:!!x_1.y-2=7@SS.GA"},
		{in: "Billing@SS.GA, ?:English=20@SS.GA,Tier2@SS.Q", want: List{
			{Name: "Billing", StatServer: "SS", Type: AgentGroup},
			{Name: "English=20", StatServer: "SS", Type: AgentGroup, Expr: cmp("English", Eq, 20)},
			{Name: "Tier2", StatServer: "SS", Type: Queue}}, canonical: "Billing@SS.GA,?:English=20@SS.GA,Tier2@SS.Q"},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", c.in, got, c.want)
		}
		canon := c.canonical
		if canon == "" {
			canon = c.in
		}
		if got.String() != canon {
			t.Errorf("%q: String() = %q, want %q", c.in, got.String(), canon)
		}
		again, err := Parse(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%q: String() does not round-trip: %v %#v", c.in, err, again)
		}
	}
}

func TestMatch(t *testing.T) {
	agent := map[string]int{"English": 20, "Loans": 2, "French": 5}
	cases := []struct {
		expr string
		want bool
	}{
		{"English=20", true}, // "=" is "at least"
		{"English=21", false},
		{"English=19", true},
		{"English>=20", true},
		{"English>20", false},
		{"English>19", true},
		{"English<20", false},
		{"English<21", true},
		{"English<=20", true},
		{"English<=19", false},
		{"English!=20", false},
		{"English!=3", true},
		{"English", true},
		{"German", false},  // bare name: skill present
		{"German<1", true}, // a missing skill is level 0
		{"German=0", true}, // ... so at-least-0 always holds
		{"German!=0", false},
		{"!German", true},
		{"!English", false},
		{"English=20&Loans=2", true},
		{"English=20&Loans=3", false},
		{"English=30|Loans=2", true},
		{"English=30|Loans=3", false},
		{"German|English&Loans=3", false}, // & binds tighter: German|(English&Loans=3)
		{"(German|English)&Loans=2", true},
		{"!English=30&French", true}, // ! binds to the comparison
		{"!(English=30|French)", false},
		{"English & ( French > 4 | Loans > 9 ) & !German", true},
	}
	for _, c := range cases {
		e, err := ParseExpr(c.expr)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		if got := e.Match(agent); got != c.want {
			t.Errorf("%q.Match = %v, want %v", c.expr, got, c.want)
		}
		if got := e.Matcher()(agent); got != c.want {
			t.Errorf("%q.Matcher() = %v, want %v", c.expr, got, c.want)
		}
	}
	l := MustParse("?:English=20&Loans=2@StatServer.GA")
	if m := l[0].Matcher(); m == nil || !m(agent) || m(map[string]int{"English": 20}) {
		t.Error("target matcher disagrees")
	}
	if got := MustParse("?:b&a|b>2@S.GA")[0].Expr.Skills(); !reflect.DeepEqual(got, []string{"b", "a"}) {
		t.Errorf("Skills() = %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	deep := "?:" + strings.Repeat("(", MaxDepth+1) + "a" + strings.Repeat(")", MaxDepth+1) + "@S.GA"
	okDeep := "?:" + strings.Repeat("(", MaxDepth) + "a" + strings.Repeat(")", MaxDepth) + "@S.GA"
	if _, err := Parse(okDeep); err != nil {
		t.Fatalf("depth %d refused: %v", MaxDepth, err)
	}
	terms := func(n int) string { return "?:" + strings.Repeat("a&", n-1) + "a@S.GA" }
	if _, err := Parse(terms(MaxTerms)); err != nil {
		t.Fatalf("%d terms refused: %v", MaxTerms, err)
	}
	many := func(n int) string { return strings.TrimSuffix(strings.Repeat("g@S.GA,", n), ",") }
	if l, err := Parse(many(MaxTargets)); err != nil || len(l) != MaxTargets {
		t.Fatalf("%d targets: %v", MaxTargets, err)
	}
	cases := []struct {
		in  string
		pos int
		msg string
	}{
		{"", 0, "empty target"},
		{"   ", 3, "empty target"},
		{"Billing", 7, "missing \"@"},
		{"Billing@StatServer", 18, "missing \".<type>\""},
		{"Billing@StatServer.XX", 19, "unknown target type \"XX\""},
		{"Billing@StatServer.ga", 19, "unknown target type"},
		{"Billing@StatServer.", 19, "unknown target type \"\""},
		{"Billing@.GA", 8, "empty StatServer name"},
		{"@S.GA", 0, "empty target name"},
		{"a@S.GA,", 7, "empty target"},
		{"a@S.GA,,b@S.GA", 7, "empty target"},
		{"a\x01b@S.GA", 1, "control character in target name"},
		{"a\xffb@S.GA", 1, "invalid UTF-8"},
		{strings.Repeat("n", MaxNameLength+1) + "@S.GA", 0, "target name longer than"},
		{"a@" + strings.Repeat("s", MaxNameLength+1) + ".GA", 2, "StatServer name longer than"},
		{"?:English=20@S.Q", 15, "skill expression needs type GA"},
		{"?:@S.GA", 2, "expected a skill, '!' or '(' but the expression ends"},
		{"?:English=@S.GA", 10, "expected a skill level"},
		{"?:English=x@S.GA", 10, "expected a skill level"},
		{"?:English=-1@S.GA", 10, "expected a skill level"},
		{"?:English=1000001@S.GA", 10, "skill level above"},
		{"?:English=99999999999999999999@S.GA", 10, "skill level above"},
		{"?:English==20@S.GA", 10, "expected a skill level"},
		{"?:English=20&@S.GA", 13, "expression ends"},
		{"?:English=20&&Loans@S.GA", 13, "expected a skill name"},
		{"?:English=20|@S.GA", 13, "expression ends"},
		{"?:(English=20@S.GA", 2, "unclosed '('"},
		{"?:English=20)@S.GA", 12, "unbalanced ')'"},
		{"?:English=20 Loans=2@S.GA", 13, "unexpected 'L'"},
		{"?:English 20@S.GA", 10, "unexpected '2'"},
		{"?:!@S.GA", 3, "expression ends"},
		{"?:()@S.GA", 3, "expected a skill name"},
		{"?:a=>2@S.GA", 4, "expected a skill level"},
		{"?:a#b@S.GA", 3, "unexpected '#'"},
		{"?:" + strings.Repeat("s", MaxNameLength+1) + "@S.GA", 2, "skill name longer than"},
		{deep, 2 + MaxDepth, "nested deeper than"},
		{"?:" + strings.Repeat("!", MaxDepth+1) + "a@S.GA", 2 + MaxDepth, "nested deeper than"},
		{terms(MaxTerms + 1), 2 + 2*MaxTerms, "more than 64 comparisons"},
		{many(MaxTargets + 1), 7 * MaxTargets, "more than 15 targets"},
		{strings.Repeat("x", MaxLength+1), MaxLength, "longer than 4096 bytes"},
	}
	for _, c := range cases {
		l, err := Parse(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%.60q: got %v, %v; want a *ParseError", c.in, l, err)
			continue
		}
		if pe.Pos != c.pos || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("%.60q: got position %d %q; want position %d containing %q", c.in, pe.Pos, pe.Msg, c.pos, c.msg)
		}
		if !strings.HasPrefix(err.Error(), "target: position ") {
			t.Errorf("%.60q: Error() = %q", c.in, err.Error())
		}
	}
}

func TestParseExprErrorPositions(t *testing.T) {
	_, err := ParseExpr("a & (b | c")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Pos != 4 {
		t.Fatalf("got %v, want position 4", err)
	}
	if _, err := ParseExpr(strings.Repeat("a", MaxLength+1)); !errors.As(err, &pe) || pe.Pos != MaxLength {
		t.Fatalf("long expression: %v", err)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse of a bad string did not panic")
		}
	}()
	MustParse("nope")
}
