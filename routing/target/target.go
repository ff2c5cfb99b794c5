// Package target parses Genesys URS target strings, the routing targets of
// the GMS callback and chat-delay services (seed 003, option _target), and
// compiles their skill expressions into agent matchers.
//
// A target string is one or more targets separated by commas (GMS accepts at
// most MaxTargets). Each target is
//
//	<name>@<statserver>.<type>          Billing@StatServer.GA
//	?:<skill expression>@<statserver>.GA ?:English=20&Loans=2@StatServer.GA
//
// where type is one of A, AP, GA, GP, Q, DN, GC, RP, DL (see Type). The "?:"
// prefix marks a skill expression: URS builds a virtual group of the agents
// whose skills satisfy it, so a skill expression is only valid with type GA.
//
// Skill expressions compare an agent's skill levels with integers:
//
//	English=20       level >= 20 (URS reads "=" as "at least")
//	English>=20  English>20  English<5  English<=5  English!=3
//	English          the skill is present: level >= 1
//	!a   a&b   a|b   (a|b)&c
//
// "!" binds tightest, then comparisons, then "&", then "|"; "&" and "|" are
// left-associative. A skill an agent does not have counts as level 0.
// Spaces are allowed around tokens. Skill names are letters, digits, '_',
// '-' and '.'; levels are integers 0..MaxLevel.
//
// Parse never panics: every malformed input yields a *ParseError naming the
// byte position of the fault, and every input is bounded (MaxLength,
// MaxTargets, MaxNameLength, MaxDepth, MaxTerms).
package target

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits. They bound work and memory for hostile input; real target strings
// are far below them.
const (
	// MaxTargets is how many comma-separated targets one string may hold;
	// GMS documents "up to 15 targets" for _target.
	MaxTargets = 15
	// MaxLength is the longest target string accepted, in bytes.
	MaxLength = 4096
	// MaxNameLength bounds a target name, a StatServer name and a skill
	// name, in bytes (Genesys configuration object names are short).
	MaxNameLength = 255
	// MaxDepth bounds the nesting of parentheses and "!" in one skill
	// expression, so that parsing, printing and matching recurse boundedly.
	MaxDepth = 32
	// MaxTerms bounds the comparisons in one skill expression.
	MaxTerms = 64
	// MaxLevel is the largest skill level a comparison may name.
	MaxLevel = 1_000_000
)

// Type is a URS target type: the kind of object a target names.
type Type string

// Target types, as URS spells them after the final '.'.
const (
	Agent         Type = "A"  // an agent
	AgentPlace    Type = "AP" // an agent place
	AgentGroup    Type = "GA" // a group of agents, or a skill expression
	PlaceGroup    Type = "GP" // a group of places
	Queue         Type = "Q"  // a queue, real or virtual
	DN            Type = "DN" // a directory number
	CampaignGroup Type = "GC" // a campaign group
	RoutingPoint  Type = "RP" // a routing point, real or virtual
	Label         Type = "DL" // a destination label
)

// Types lists every valid Type, in the order of the GMS documentation.
var Types = []Type{Agent, AgentPlace, AgentGroup, PlaceGroup, Queue, DN, CampaignGroup, RoutingPoint, Label}

func validType(t Type) bool {
	for _, v := range Types {
		if v == t {
			return true
		}
	}
	return false
}

// Target is one parsed target.
type Target struct {
	// Name is the object's name (agent, group, queue, DN...). For a skill
	// target it is the canonical text of Expr, without the "?:" prefix.
	Name string
	// StatServer is the Stat Server that reports on the target.
	StatServer string
	// Type is the target type.
	Type Type
	// Expr is the skill expression of a "?:" target, nil otherwise.
	Expr *Expr
}

// List is the targets of one target string, in the order written (URS tries
// them in that order when it has no better statistic to choose by).
type List []Target

// ParseError is a malformed target string. Pos is the 0-based byte offset
// in the input where the fault was found.
type ParseError struct {
	Pos int
	Msg string
}

// Error returns "target: position <Pos>: <Msg>".
func (e *ParseError) Error() string { return fmt.Sprintf("target: position %d: %s", e.Pos, e.Msg) }

func errAt(pos int, format string, args ...any) error {
	return &ParseError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses a target string of one to MaxTargets comma-separated
// targets. Spaces around targets and around their parts are ignored.
// Errors are always *ParseError.
func Parse(s string) (List, error) {
	if len(s) > MaxLength {
		return nil, errAt(MaxLength, "target string longer than %d bytes", MaxLength)
	}
	var out List
	start := 0
	for {
		end := strings.IndexByte(s[start:], ',')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		if len(out) == MaxTargets {
			return nil, errAt(start, "more than %d targets", MaxTargets)
		}
		t, err := parseOne(s, start, end)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		if end == len(s) {
			return out, nil
		}
		start = end + 1
	}
}

// MustParse is Parse for strings known to be valid (tests, constants); it
// panics on error.
func MustParse(s string) List {
	l, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return l
}

// trim narrows [from, to) of s to exclude surrounding spaces and tabs.
func trim(s string, from, to int) (int, int) {
	for from < to && isSpace(s[from]) {
		from++
	}
	for to > from && isSpace(s[to-1]) {
		to--
	}
	return from, to
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' }

// parseOne parses the target in s[from:to].
func parseOne(s string, from, to int) (Target, error) {
	from, to = trim(s, from, to)
	if from == to {
		return Target{}, errAt(from, "empty target")
	}
	at := strings.LastIndexByte(s[from:to], '@')
	if at < 0 {
		return Target{}, errAt(to, "missing \"@<statserver>.<type>\"")
	}
	at += from
	dot := strings.LastIndexByte(s[at+1:to], '.')
	if dot < 0 {
		return Target{}, errAt(to, "missing \".<type>\" after the StatServer name")
	}
	dot += at + 1
	var t Target
	ts, te := trim(s, dot+1, to)
	t.Type = Type(s[ts:te])
	if !validType(t.Type) {
		return Target{}, errAt(ts, "unknown target type %q (want one of A, AP, GA, GP, Q, DN, GC, RP, DL)", s[ts:te])
	}
	ss, se := trim(s, at+1, dot)
	if err := checkName(s, ss, se, "StatServer name"); err != nil {
		return Target{}, err
	}
	t.StatServer = s[ss:se]
	ns, ne := trim(s, from, at)
	if strings.HasPrefix(s[ns:ne], "?:") {
		if t.Type != AgentGroup {
			return Target{}, errAt(ts, "a skill expression needs type GA, not %s", t.Type)
		}
		p := exprParser{s: s[:ne], i: ns + 2}
		e, err := p.parse()
		if err != nil {
			return Target{}, err
		}
		t.Expr = e
		t.Name = e.String()
		return t, nil
	}
	if err := checkName(s, ns, ne, "target name"); err != nil {
		return Target{}, err
	}
	t.Name = s[ns:ne]
	return t, nil
}

// checkName accepts s[from:to] as a name: not empty, at most MaxNameLength
// bytes, valid UTF-8 without control characters (they cannot round-trip
// through configuration or logs).
func checkName(s string, from, to int, what string) error {
	if from == to {
		return errAt(from, "empty %s", what)
	}
	if to-from > MaxNameLength {
		return errAt(from, "%s longer than %d bytes", what, MaxNameLength)
	}
	for i := from; i < to; {
		r, n := utf8.DecodeRuneInString(s[i:to])
		if r == utf8.RuneError && n <= 1 {
			return errAt(i, "invalid UTF-8 in %s", what)
		}
		if unicode.IsControl(r) {
			return errAt(i, "control character in %s", what)
		}
		i += n
	}
	return nil
}

// String returns the target in URS syntax; Parse(t.String()) yields t back
// for every parsed t.
func (t Target) String() string {
	if t.Expr != nil {
		return "?:" + t.Expr.String() + "@" + t.StatServer + "." + string(t.Type)
	}
	return t.Name + "@" + t.StatServer + "." + string(t.Type)
}

// String returns the targets joined by commas, in URS syntax.
func (l List) String() string {
	var b strings.Builder
	for i, t := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t.String())
	}
	return b.String()
}

// Matcher returns a function telling whether an agent with the given skills
// (name -> level) satisfies the target's skill expression, or nil when the
// target is not a skill target.
func (t Target) Matcher() func(skills map[string]int) bool {
	if t.Expr == nil {
		return nil
	}
	return t.Expr.Matcher()
}
