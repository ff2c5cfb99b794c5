// Command omniroute is the omnichannel routing server and its tools:
//
//	omniroute serve        run the server (REST /v1, Agent Desk Socket.IO, metrics)
//	omniroute replay       replay a real day of calls through the engine
//	omniroute simulate     M/M/N(+M) traffic beside the Erlang formulas
//	omniroute demo         serve on the embedded default and replay a day live
//	omniroute check-config validate a config file
//	omniroute version      print the version
//
// main is thin: the commands live in package cli.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/omniroute/omniroute/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "omniroute:", err)
		os.Exit(1)
	}
}
