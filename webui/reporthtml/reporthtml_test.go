package reporthtml_test

import (
	"strings"
	"testing"

	"github.com/omniroute/omniroute/webui/reporthtml"
)

type figures struct {
	Offered int     `json:"offered"`
	ASA     float64 `json:"asa_seconds"`
}

type hour struct {
	Hour int `json:"hour"`
	figures
	Recorded figures `json:"recorded"`
	// Added is a field a later version of the report adds: it must show
	// up as a column and a chart without the renderer knowing it.
	Added float64 `json:"added_figure"`
}

func TestWriteRendersEveryFieldAndRecordedBeside(t *testing.T) {
	rep := struct {
		Date  string `json:"date"`
		Day   hour   `json:"day"`
		Hours []hour `json:"hours"`
	}{
		Date: "1999-02-01",
		Day:  hour{figures: figures{30, 12.5}, Recorded: figures{31, 11}},
		Hours: []hour{
			{Hour: 8, figures: figures{10, 5}, Recorded: figures{11, 4}, Added: 1.5},
			{Hour: 9, figures: figures{20, 20}, Recorded: figures{20, 18}, Added: 2.5},
		},
	}
	var b strings.Builder
	if err := reporthtml.Write(&b, "replay <day>", rep); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		"<title>replay &lt;day&gt;</title>",                        // escaped
		`aria-label="offered per row"`,                             // a chart per figure
		`aria-label="added_figure per row"`,                        // the added field's chart
		"<th scope=\"col\">added_figure</th>",                      // and column
		"<th scope=\"col\">recorded.offered</th>",                  // recorded beside engine
		`<polyline class="rec"`,                                    // recorded line drawn
		"<th scope=\"row\">day.offered</th><td>30</td><td>31</td>", // summary pairs
		"<td>12.500</td>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://", "<link"} {
		if strings.Contains(html, bad) {
			t.Errorf("report is not self-contained: has %q", bad)
		}
	}
}
