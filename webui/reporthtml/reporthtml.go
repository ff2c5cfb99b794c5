// Package reporthtml writes a report of `omniroute replay` or `omniroute
// simulate` as one self-contained HTML page (inline CSS and SVG charts, no
// script, nothing fetched), for `--report FILE.html`.
//
// It renders any report struct through its JSON form, so fields added to
// the report types later show up without changes here:
//
//   - scalars (at any depth of nested objects) go into a summary table,
//     named by their JSON path ("day.asa_seconds", "day.recorded.offered");
//   - every array of objects (the hours of a day, the days of a month)
//     becomes a table, one row per element, one column per numeric or text
//     path; its x axis is the first of "hour", "date", "day" present;
//   - for every numeric column of such an array, a chart of the engine's
//     value per row, beside the recorded value ("recorded.<path>") when the
//     report carries it.
package reporthtml

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Write renders v (a report struct, JSON-encodable) with title to w.
func Write(w io.Writer, title string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("reporthtml: %w", err)
	}
	var root any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return fmt.Errorf("reporthtml: %w", err)
	}
	p := page{Title: title}
	walk(&p, "", root)
	p.pairRecorded()
	return tmpl.Execute(w, p)
}

type page struct {
	Title   string
	Summary [][2]string
	// Rows are Summary with each "<a>.recorded.<b>" beside "<a>.<b>":
	// name, engine value, recorded value.
	Rows   [][3]string
	Series []series
}

func (p *page) pairRecorded() {
	byName := map[string]string{}
	for _, kv := range p.Summary {
		byName[kv[0]] = kv[1]
	}
	twin := func(name string) string {
		if i := strings.LastIndex(name, "."); i >= 0 {
			return name[:i] + ".recorded." + name[i+1:]
		}
		return "recorded." + name
	}
	used := map[string]bool{}
	for _, kv := range p.Summary {
		if _, ok := byName[twin(kv[0])]; ok {
			used[twin(kv[0])] = true
		}
	}
	for _, kv := range p.Summary {
		if used[kv[0]] {
			continue
		}
		p.Rows = append(p.Rows, [3]string{kv[0], kv[1], byName[twin(kv[0])]})
	}
}

// series is one array of objects: a table and its charts.
type series struct {
	Name    string
	XKey    string
	Columns []string
	Rows    [][]string
	Charts  []template.HTML
}

func walk(p *page, path string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(mapKeys(x)) {
			walk(p, join(path, k), x[k])
		}
	case []any:
		if len(x) > 0 {
			if _, ok := x[0].(map[string]any); ok {
				p.Series = append(p.Series, table(path, x))
				return
			}
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = scalar(e)
		}
		p.Summary = append(p.Summary, [2]string{path, strings.Join(parts, ", ")})
	default:
		p.Summary = append(p.Summary, [2]string{path, scalar(v)})
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case json.Number:
		if f, err := x.Float64(); err == nil && f != math.Trunc(f) {
			return strconv.FormatFloat(f, 'f', 3, 64)
		}
		return x.String()
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// flatten maps every scalar path of an element to its value.
func flatten(out map[string]any, path string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flatten(out, join(path, k), e)
		}
	case []any:
		b, _ := json.Marshal(x)
		out[path] = string(b)
	default:
		out[path] = v
	}
}

func table(name string, elems []any) series {
	s := series{Name: name}
	flat := make([]map[string]any, len(elems))
	cols := map[string]bool{}
	for i, e := range elems {
		flat[i] = map[string]any{}
		flatten(flat[i], "", e)
		for k := range flat[i] {
			cols[k] = true
		}
	}
	for _, x := range []string{"hour", "date", "day"} {
		if cols[x] {
			s.XKey = x
			break
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range cols {
			if k != s.XKey && !yield(k) {
				return
			}
		}
	})
	// Engine columns first, each followed by its recorded twin.
	var ordered []string
	for _, k := range keys {
		if !strings.HasPrefix(k, "recorded.") {
			ordered = append(ordered, k)
			if cols["recorded."+k] {
				ordered = append(ordered, "recorded."+k)
			}
		}
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "recorded.") && !cols[strings.TrimPrefix(k, "recorded.")] {
			ordered = append(ordered, k)
		}
	}
	if s.XKey != "" {
		s.Columns = append([]string{s.XKey}, ordered...)
	} else {
		s.Columns = ordered
	}
	labels := make([]string, len(flat))
	for i, f := range flat {
		row := make([]string, len(s.Columns))
		for j, c := range s.Columns {
			row[j] = scalar(f[c])
		}
		s.Rows = append(s.Rows, row)
		labels[i] = strconv.Itoa(i)
		if s.XKey != "" {
			labels[i] = scalar(f[s.XKey])
		}
	}
	for _, k := range ordered {
		if strings.HasPrefix(k, "recorded.") {
			continue
		}
		eng, ok := numbers(flat, k)
		if !ok {
			continue
		}
		rec, hasRec := numbers(flat, "recorded."+k)
		if !hasRec {
			rec = nil
		}
		s.Charts = append(s.Charts, chart(k, labels, eng, rec))
	}
	return s
}

// numbers returns column k as numbers (NaN where missing); ok is false when
// no element holds a number there.
func numbers(flat []map[string]any, k string) ([]float64, bool) {
	out := make([]float64, len(flat))
	any := false
	for i, f := range flat {
		out[i] = math.NaN()
		if n, isNum := f[k].(json.Number); isNum {
			if v, err := n.Float64(); err == nil {
				out[i], any = v, true
			}
		}
	}
	return out, any
}

// chart draws the engine's values (a solid line) and the recorded ones
// (dashed), with a y axis from 0 to the maximum.
func chart(title string, labels []string, eng, rec []float64) template.HTML {
	const w, h, left, bottom, top = 460.0, 200.0, 48.0, 28.0, 24.0
	maxV := 0.0
	for _, s := range [][]float64{eng, rec} {
		for _, v := range s {
			if !math.IsNaN(v) {
				maxV = math.Max(maxV, v)
			}
		}
	}
	if maxV == 0 {
		maxV = 1
	}
	n := len(labels)
	x := func(i int) float64 {
		if n == 1 {
			return left + (w-left-8)/2
		}
		return left + float64(i)*(w-left-8)/float64(n-1)
	}
	y := func(v float64) float64 { return top + (h-top-bottom)*(1-v/maxV) }
	var b strings.Builder
	fmt.Fprintf(&b, `<figure><svg viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s per %s">`, w, h, w, h,
		template.HTMLEscapeString(title), "row")
	fmt.Fprintf(&b, `<text x="%g" y="14" class="t">%s</text>`, left, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" class="ax"/><line x1="%g" y1="%g" x2="%g" y2="%g" class="ax"/>`,
		left, top, left, h-bottom, left, h-bottom, w-8, h-bottom)
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="l" text-anchor="end">%s</text><text x="%g" y="%g" class="l" text-anchor="end">0</text>`,
		left-4, top+4, strconv.FormatFloat(maxV, 'g', 4, 64), left-4, h-bottom+4)
	step := max(1, n/12)
	for i := 0; i < n; i += step {
		fmt.Fprintf(&b, `<text x="%g" y="%g" class="l" text-anchor="middle">%s</text>`, x(i), h-bottom+16, template.HTMLEscapeString(labels[i]))
	}
	line := func(s []float64, class string) {
		if s == nil {
			return
		}
		var pts []string
		for i, v := range s {
			if !math.IsNaN(v) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
			}
		}
		fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, class, strings.Join(pts, " "))
	}
	line(rec, "rec")
	line(eng, "eng")
	b.WriteString(`</svg><figcaption><span class="k eng">engine</span>`)
	if rec != nil {
		b.WriteString(` <span class="k rec">recorded</span>`)
	}
	b.WriteString(`</figcaption></figure>`)
	return template.HTML(b.String())
}

var tmpl = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:1rem;background:#fff;color:#111}
h1{font-size:1.3rem}h2{font-size:1.1rem;margin-top:1.5rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.2rem .4rem;text-align:right}
th{background:#eef2f6}td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:.75rem}figure{margin:0;border:1px solid #ddd;padding:.25rem}
.ax{stroke:#555}.l{font-size:10px;fill:#333}.t{font-size:12px;font-weight:600;fill:#111}
polyline{fill:none;stroke-width:2}.eng{stroke:#0057b8;color:#0057b8}.rec{stroke:#b34700;stroke-dasharray:6 4;color:#b34700}
.k{font-weight:600;font-size:.8rem}.k.eng::before,.k.rec::before{content:"\2014\2002"}
.wrap{overflow-x:auto}
</style></head><body>
<h1>{{.Title}}</h1>
{{range .Series}}
<h2>{{.Name}}{{if .XKey}} by {{.XKey}}{{end}}</h2>
<div class="charts">{{range .Charts}}{{.}}{{end}}</div>
<div class="wrap"><table><thead><tr>{{range .Columns}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</tbody></table></div>
{{end}}
<h2>Summary</h2>
<table><thead><tr><th scope="col">figure</th><th scope="col">engine</th><th scope="col">recorded</th></tr></thead>
<tbody>{{range .Rows}}<tr><th scope="row">{{index . 0}}</th><td>{{index . 1}}</td><td>{{index . 2}}</td></tr>{{end}}</tbody></table>
</body></html>
`))
