package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omniroute/omniroute/cli"
	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/erasure"
	"github.com/omniroute/omniroute/server"
)

// transcriptOf reads the first n events of a conversation's customer
// stream (GET /v1/conversations/{id}/events) and returns their data lines.
func transcriptOf(t *testing.T, base, id string, n int) []string {
	t.Helper()
	return transcriptOfWith(t, base, id, "dev-admin-token", n)
}

// transcriptOfWith is transcriptOf with the caller's token.
func transcriptOfWith(t *testing.T, base, id, token string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/conversations/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("events of %s: %d", id, resp.StatusCode)
	}
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for len(out) < n && sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	if len(out) < n {
		t.Fatalf("events of %s: %d of %d events (%v)", id, len(out), n, sc.Err())
	}
	return out
}

// TestEraseCustomer (issue 13 item 6, Must show "Erasure"): two customers'
// conversations with an IBAN, a card number in a message, and snapshots
// after every command. With customer keys off, a grep of the raw files of
// the data dir finds the IBAN (so the grep sees the journal). With them on
// (the default), no file holds any field of either customer, and the
// keyring names the customer; `omniroute erase --customer` refuses while
// the server runs, then, on the stopped server, deletes the key, after
// which no file holds that key either (sealed values keep only the ref,
// an HMAC of the id). After a restart the
// routing state is recovered as it was (both conversations, queue, state,
// request), the erased customer and its transcript read {"erased":true},
// and the other customer reads in full. Each customer also has a GMS
// callback, its _customer_number (the GMS customer id) and a usr_ field
// sealed in the callback record of the gms bucket and in the
// conversation's attributes: erasing that number leaves neither in any
// file, and after the restart the kept callback shows its number and its
// usr_ attribute again (unsealed from the stored record and the
// journal), the erased one neither.
func TestEraseCustomer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	type customer struct{ id, name, iban, card, phone, note string }
	gone := customer{"cust-erase-41", "Erika Mustermann", "DE44500105175407324931", "4111111111111111",
		"4085550141", "usr-note-erika-7731"}
	kept := customer{"cust-keep-42", "Keeper Jones", "GB29NWBK60161331926819", "5500005555555559",
		"4085550142", "usr-note-keeper-8842"}
	snapEvery := func(c *config.Config) { c.Server.SnapshotEvery = 1 }
	open := func(srv *server.Server, c customer) string {
		t.Helper()
		st, b := call(t, "POST", srv.URL()+"/v1/conversations", "dev-admin-token",
			`{"queue":"chat-sales","customer":{"id":"`+c.id+`","firstName":"`+c.name+`","iban":"`+c.iban+`"}}`)
		if st != 201 {
			t.Fatalf("create: %d %s", st, b)
		}
		var cr struct{ ID string }
		json.Unmarshal(b, &cr)
		st, b = call(t, "POST", srv.URL()+"/v1/conversations/"+cr.ID+"/messages", "dev-admin-token",
			`{"body":{"type":"PLAIN","markdownText":"my card is `+c.card+`"}}`)
		if st != 201 {
			t.Fatalf("message: %d %s", st, b)
		}
		return cr.ID
	}
	type view struct {
		Queue, State string
		Customer     json.RawMessage
		Request      *struct{ ID string }
	}
	get := func(srv *server.Server, id string) view {
		t.Helper()
		st, b := call(t, "GET", srv.URL()+"/v1/conversations/"+id, "dev-admin-token", "")
		var v view
		if st != 200 || json.Unmarshal(b, &v) != nil {
			t.Fatalf("get %s: %d %s", id, st, b)
		}
		return v
	}
	fields := func(c customer) []string { return []string{c.id, c.name, c.iban, c.card, c.phone, c.note} }
	const gmsUser = "b16416334828b1d26ef14f329628b55b5a8c631d8928a371a5584722dd7fb673"
	gmsSend := func(srv *server.Server, method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL()+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("gms_user", gmsUser)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
	// callback starts a GMS callback of c (the seed's fields: a number and
	// a usr_ field) and returns its id.
	callback := func(srv *server.Server, c customer) string {
		t.Helper()
		st, b := gmsSend(srv, "POST", "/genesys/1/service/callback/chat-delay",
			"_customer_number="+c.phone+"&usr_note="+c.note+"&_device_os=ios&_device_notification_id=device-"+c.phone[len(c.phone)-1:])
		var cr struct {
			ID string `json:"_id"`
		}
		if st != 200 || json.Unmarshal(b, &cr) != nil || cr.ID == "" {
			t.Fatalf("start callback: %d %s", st, b)
		}
		return cr.ID
	}
	// callbackShows is the callback's _customer_number (GMS) and its usr_note
	// attribute (REST conversation view).
	callbackShows := func(srv *server.Server, id string) (number, note string) {
		t.Helper()
		st, b := gmsSend(srv, "GET", "/genesys/1/service/callback/chat-delay/"+id, "")
		var cv struct {
			Number string `json:"_customer_number"`
		}
		if st != 200 || json.Unmarshal(b, &cv) != nil {
			t.Fatalf("get callback %s: %d %s", id, st, b)
		}
		st, b = call(t, "GET", srv.URL()+"/v1/conversations/"+id, "dev-admin-token", "")
		var v struct{ Attributes map[string]string }
		if st != 200 || json.Unmarshal(b, &v) != nil {
			t.Fatalf("get conversation %s: %d %s", id, st, b)
		}
		return cv.Number, v.Attributes["usr_note"]
	}

	// Customer keys off: the grep finds the IBAN in the journal.
	plain := t.TempDir()
	srv, err := startWith(ctx, plain, func(c *config.Config) {
		snapEvery(c)
		off := false
		c.DataAtRest.CustomerKeys = &off
	})
	if err != nil {
		t.Fatal(err)
	}
	open(srv, gone)
	callback(srv, gone)
	srv.Close()
	for _, f := range []string{gone.iban, gone.phone, gone.note} {
		if got := filesHolding(t, plain, f); len(got) == 0 {
			t.Fatalf("customer keys off: %q is in no file, so the greps below prove nothing", f)
		}
	}

	dir := t.TempDir()
	if srv, err = startWith(ctx, dir, snapEvery); err != nil {
		t.Fatal(err)
	}
	a, b := open(srv, gone), open(srv, kept)
	before := map[string]view{a: get(srv, a), b: get(srv, b)}
	cbGone, cbKept := callback(srv, gone), callback(srv, kept)
	if n, note := callbackShows(srv, cbKept); n != kept.phone || note != kept.note {
		t.Fatalf("callback shows number %q, usr_note %q; want %q, %q", n, note, kept.phone, kept.note)
	}
	if !bytes.Contains(before[a].Customer, []byte(gone.iban)) {
		t.Fatalf("the customer is not shown unsealed: %s", before[a].Customer)
	}
	if tr := transcriptOf(t, srv.URL(), a, 2); !strings.Contains(strings.Join(tr, "\n"), gone.card) {
		t.Fatalf("the transcript is not shown unsealed: %s", tr)
	}
	var out bytes.Buffer
	eraseArgs := []string{"erase", "--customer", gone.id, "--data-dir", dir}
	if err := cli.Execute(ctx, eraseArgs, &out, &out); err == nil || !strings.Contains(err.Error(), "running server") {
		t.Fatalf("erase while the server runs: %v", err)
	}
	srv.Close()
	for _, c := range []customer{gone, kept} {
		for _, f := range fields(c) {
			if got := filesHolding(t, dir, f); len(got) > 0 {
				t.Fatalf("before erase, %q is in plaintext in %v", f, got)
			}
		}
	}
	k, err := erasure.Open(filepath.Join(dir, server.CustomerKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := k.Ref(gone.id)
	k.Close()
	ring, _ := os.ReadFile(filepath.Join(dir, server.CustomerKeysFile))
	var key string
	for line := range strings.Lines(string(ring)) {
		if f := strings.Fields(line); len(f) == 3 && f[1] == ref {
			key = f[2]
		}
	}
	if key == "" || len(filesHolding(t, dir, key)) == 0 {
		t.Fatal("the customer's key is in no file before erase, so the check after it proves nothing")
	}

	for _, args := range [][]string{eraseArgs, {"erase", "--customer", gone.phone, "--data-dir", dir}} {
		out.Reset()
		if err := cli.Execute(ctx, args, &out, &out); err != nil {
			t.Fatalf("erase: %v (%s)", err, out.String())
		}
		t.Logf("erase: %s", strings.TrimSpace(out.String()))
	}
	for _, needle := range append(fields(gone), key) {
		if got := filesHolding(t, dir, needle); len(got) > 0 {
			t.Fatalf("after erase, %q is in %v", needle, got)
		}
	}

	if srv, err = startWith(ctx, dir, snapEvery); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for id, was := range before {
		now := get(srv, id)
		if now.Queue != was.Queue || now.State != was.State || now.Request == nil || was.Request == nil || now.Request.ID != was.Request.ID {
			t.Fatalf("conversation %s after restart: %+v, before %+v", id, now, was)
		}
	}
	if c := get(srv, a).Customer; !bytes.Equal(c, erasure.Erased) {
		t.Fatalf("erased customer reads %s", c)
	}
	if c := get(srv, b).Customer; !bytes.Equal(c, before[b].Customer) {
		t.Fatalf("kept customer reads %s, was %s", c, before[b].Customer)
	}
	for _, e := range transcriptOf(t, srv.URL(), a, 2) {
		if e != string(erasure.Erased) {
			t.Fatalf("erased transcript reads %s", e)
		}
	}
	if tr := transcriptOf(t, srv.URL(), b, 2); !strings.Contains(strings.Join(tr, "\n"), kept.card) {
		t.Fatalf("kept transcript reads %s", tr)
	}
	if n, note := callbackShows(srv, cbKept); n != kept.phone || note != kept.note {
		t.Fatalf("kept callback after restart: number %q, usr_note %q; want %q, %q", n, note, kept.phone, kept.note)
	}
	if n, note := callbackShows(srv, cbGone); n != "" || note != "" {
		t.Fatalf("erased callback after restart: number %q, usr_note %q; want neither", n, note)
	}
	// The queue still works: a new conversation routes as before.
	if id := open(srv, customer{"cust-new-43", "New", "FR1420041010050500013M02606", "340000000000009", "", ""}); get(srv, id).State == "" {
		t.Fatal("no state for a conversation after the restart")
	}
}
