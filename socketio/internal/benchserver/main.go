// Command benchserver is the Go side of the Socket.IO peer benchmark
// (socketio/internal/peerbench): package socketio with its defaults
// (ping 25 s / 20 s) on -addr; on "/", "message-with-ack" is acknowledged
// with its own arguments and "message" echoed as "message-back", as the
// socket.io 4.8.1 peer does.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"net/http/pprof"

	"github.com/omniroute/omniroute/socketio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3100", "listen address")
	prof := flag.String("pprof", "", "serve net/http/pprof on this address too")
	flag.Parse()
	if *prof != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		go func() { log.Println(http.ListenAndServe(*prof, mux)) }()
	}
	s := socketio.NewServer(socketio.Options{MaxPendingPerAddress: -1})
	s.Of("/").OnConnection(func(sk *socketio.Socket) {
		sk.OnEvent(func(ev *socketio.Event) {
			args := make([]any, len(ev.Args))
			for i, a := range ev.Args {
				args[i] = json.RawMessage(a)
			}
			switch ev.Name {
			case "message-with-ack":
				_ = ev.Ack(args...)
			case "message":
				_ = sk.Emit("message-back", args...)
			}
		})
	})
	log.Printf("benchserver on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, s))
}
