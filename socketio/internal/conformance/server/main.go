// Command server serves the server the official Socket.IO
// protocol test suite expects (see package socketio/internal/conformance)
// on -addr, default localhost:3000, the suite's URL:
//
//	go run ./socketio/internal/conformance/server &
//	d=$(mktemp -d) && cp -r ../shared/conformance/socket.io-protocol/. "$d" && (cd "$d" && npm ci && npx mocha test-suite.js)
//
// The normal `go test ./socketio/` runs the suite too (TestConformance).
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/omniroute/omniroute/socketio/internal/conformance"
)

func main() {
	addr := flag.String("addr", "localhost:3000", "listen address")
	flag.Parse()
	log.Printf("socketio conformance server: listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, conformance.New()))
}
