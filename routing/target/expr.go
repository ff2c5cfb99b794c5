package target

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Op is the kind of a skill-expression node.
type Op uint8

// Node kinds, from loosest to tightest binding.
const (
	// OpOr: X | Y.
	OpOr Op = iota + 1
	// OpAnd: X & Y.
	OpAnd
	// OpNot: !X.
	OpNot
	// OpCmp: Skill Cmp Level, or a bare Skill (Cmp empty).
	OpCmp
)

// Cmp is a comparison operator of a skill expression.
type Cmp string

// Comparisons. Eq is URS's "=", which means "at least" for skill levels,
// exactly as Ge does; both are kept so that String gives back what was
// written.
const (
	// Has is a bare skill name: level >= 1.
	Has Cmp = ""
	Eq  Cmp = "="
	Ge  Cmp = ">="
	Gt  Cmp = ">"
	Le  Cmp = "<="
	Lt  Cmp = "<"
	Ne  Cmp = "!="
)

// Expr is a node of a parsed skill expression. The tree is plain data:
// compare two with reflect.DeepEqual, print one with String.
type Expr struct {
	// Op says which of the other fields are used.
	Op Op
	// X is the operand of OpNot and the left operand of OpAnd and OpOr;
	// Y is the right operand of OpAnd and OpOr.
	X, Y *Expr
	// Skill, Cmp and Level are the comparison of an OpCmp node.
	Skill string
	Cmp   Cmp
	Level int
}

// ParseExpr parses a skill expression without the "?:" prefix and the
// "@<statserver>.GA" suffix, e.g. "English=20&Loans=2". Errors are
// *ParseError with positions in expr.
func ParseExpr(expr string) (*Expr, error) {
	if len(expr) > MaxLength {
		return nil, errAt(MaxLength, "expression longer than %d bytes", MaxLength)
	}
	p := exprParser{s: expr}
	return p.parse()
}

// exprParser is a recursive-descent parser over s[i:]; positions are
// offsets in s, which is the whole input up to the end of the expression.
type exprParser struct {
	s     string
	i     int
	depth int
	terms int
}

func (p *exprParser) parse() (*Expr, error) {
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.s) {
		if p.s[p.i] == ')' {
			return nil, errAt(p.i, "unbalanced ')'")
		}
		return nil, errAt(p.i, "unexpected %q after a complete expression", p.peekRune())
	}
	return e, nil
}

func (p *exprParser) space() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func (p *exprParser) peekRune() rune {
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return r
}

func (p *exprParser) or() (*Expr, error) {
	x, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '|' {
			return x, nil
		}
		p.i++
		y, err := p.and()
		if err != nil {
			return nil, err
		}
		x = &Expr{Op: OpOr, X: x, Y: y}
	}
}

func (p *exprParser) and() (*Expr, error) {
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '&' {
			return x, nil
		}
		p.i++
		y, err := p.unary()
		if err != nil {
			return nil, err
		}
		x = &Expr{Op: OpAnd, X: x, Y: y}
	}
}

func (p *exprParser) unary() (*Expr, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, errAt(p.i, "expected a skill, '!' or '(' but the expression ends")
	}
	switch p.s[p.i] {
	case '!', '(':
		if p.depth == MaxDepth {
			return nil, errAt(p.i, "expression nested deeper than %d", MaxDepth)
		}
		p.depth++
		defer func() { p.depth-- }()
		open := p.i
		p.i++
		if p.s[open] == '!' {
			x, err := p.unary()
			if err != nil {
				return nil, err
			}
			return &Expr{Op: OpNot, X: x}, nil
		}
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, errAt(open, "unclosed '('")
		}
		p.i++
		return x, nil
	}
	return p.comparison()
}

func isSkillRune(r rune) bool {
	return r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func (p *exprParser) comparison() (*Expr, error) {
	start := p.i
	for p.i < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[p.i:])
		if r == utf8.RuneError && n <= 1 || !isSkillRune(r) {
			break
		}
		p.i += n
	}
	if p.i == start {
		return nil, errAt(p.i, "expected a skill name, '!' or '(', found %q", p.peekRune())
	}
	if p.i-start > MaxNameLength {
		return nil, errAt(start, "skill name longer than %d bytes", MaxNameLength)
	}
	if p.terms == MaxTerms {
		return nil, errAt(start, "more than %d comparisons in one expression", MaxTerms)
	}
	p.terms++
	e := &Expr{Op: OpCmp, Skill: p.s[start:p.i]}
	p.space()
	rest := p.s[p.i:]
	switch {
	case len(rest) >= 2 && (rest[:2] == ">=" || rest[:2] == "<=" || rest[:2] == "!="):
		e.Cmp = Cmp(rest[:2])
	case len(rest) >= 1 && (rest[0] == '=' || rest[0] == '>' || rest[0] == '<'):
		e.Cmp = Cmp(rest[:1])
	default:
		return e, nil // bare skill name
	}
	p.i += len(e.Cmp)
	p.space()
	ns := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i == ns {
		return nil, errAt(ns, "expected a skill level (0..%d) after %q", MaxLevel, string(e.Cmp))
	}
	// Bound the digits before converting, so that no overflow is possible.
	if p.i-ns > 7 {
		return nil, errAt(ns, "skill level above %d", MaxLevel)
	}
	lv, _ := strconv.Atoi(p.s[ns:p.i])
	if lv > MaxLevel {
		return nil, errAt(ns, "skill level above %d", MaxLevel)
	}
	e.Level = lv
	return e, nil
}

// prec is the binding strength of a node: higher binds tighter.
func (e *Expr) prec() int { return int(e.Op) }

// String returns the expression in canonical URS syntax: no spaces, and
// parentheses exactly where the tree needs them, so ParseExpr(e.String())
// is equal to e.
func (e *Expr) String() string {
	var b []byte
	return string(e.appendTo(b))
}

func (e *Expr) appendTo(b []byte) []byte {
	sub := func(b []byte, x *Expr, paren bool) []byte {
		if paren {
			b = append(b, '(')
			b = x.appendTo(b)
			return append(b, ')')
		}
		return x.appendTo(b)
	}
	switch e.Op {
	case OpCmp:
		b = append(b, e.Skill...)
		if e.Cmp != Has {
			b = append(b, e.Cmp...)
			b = strconv.AppendInt(b, int64(e.Level), 10)
		}
	case OpNot:
		b = append(b, '!')
		b = sub(b, e.X, e.X.prec() < OpNot.prec())
	case OpAnd, OpOr:
		// Left-associative: a left operand of equal strength needs no
		// parentheses, a right one does (a&(b&c) is a different tree).
		b = sub(b, e.X, e.X.prec() < e.prec())
		if e.Op == OpAnd {
			b = append(b, '&')
		} else {
			b = append(b, '|')
		}
		b = sub(b, e.Y, e.Y.prec() <= e.prec())
	}
	return b
}

func (o Op) prec() int { return int(o) }

// Match tells whether skills (name -> level; a missing skill is level 0)
// satisfy the expression.
func (e *Expr) Match(skills map[string]int) bool {
	switch e.Op {
	case OpOr:
		return e.X.Match(skills) || e.Y.Match(skills)
	case OpAnd:
		return e.X.Match(skills) && e.Y.Match(skills)
	case OpNot:
		return !e.X.Match(skills)
	case OpCmp:
		return compare(skills[e.Skill], e.Cmp, e.Level)
	}
	return false
}

func compare(have int, c Cmp, level int) bool {
	switch c {
	case Has:
		return have >= 1
	case Eq, Ge:
		return have >= level
	case Gt:
		return have > level
	case Le:
		return have <= level
	case Lt:
		return have < level
	case Ne:
		return have != level
	}
	return false
}

// Matcher compiles the expression into a closure tree, so that matching
// many agents does not re-dispatch on node kinds. It returns the same
// answers as Match.
func (e *Expr) Matcher() func(skills map[string]int) bool {
	switch e.Op {
	case OpOr:
		x, y := e.X.Matcher(), e.Y.Matcher()
		return func(s map[string]int) bool { return x(s) || y(s) }
	case OpAnd:
		x, y := e.X.Matcher(), e.Y.Matcher()
		return func(s map[string]int) bool { return x(s) && y(s) }
	case OpNot:
		x := e.X.Matcher()
		return func(s map[string]int) bool { return !x(s) }
	case OpCmp:
		skill, lv := e.Skill, e.Level
		switch e.Cmp {
		case Has:
			return func(s map[string]int) bool { return s[skill] >= 1 }
		case Eq, Ge:
			return func(s map[string]int) bool { return s[skill] >= lv }
		case Gt:
			return func(s map[string]int) bool { return s[skill] > lv }
		case Le:
			return func(s map[string]int) bool { return s[skill] <= lv }
		case Lt:
			return func(s map[string]int) bool { return s[skill] < lv }
		case Ne:
			return func(s map[string]int) bool { return s[skill] != lv }
		}
	}
	return func(map[string]int) bool { return false }
}

// Skills returns the skill names the expression mentions, in order of first
// appearance; a router uses them to narrow the agents worth matching.
func (e *Expr) Skills() []string {
	var out []string
	seen := map[string]bool{}
	var walk func(x *Expr)
	walk = func(x *Expr) {
		if x == nil {
			return
		}
		if x.Op == OpCmp && !seen[x.Skill] {
			seen[x.Skill] = true
			out = append(out, x.Skill)
		}
		walk(x.X)
		walk(x.Y)
	}
	walk(e)
	return out
}
