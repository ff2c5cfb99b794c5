// Package examples holds omniroute's example configuration, embedded so
// that `omniroute serve` and `omniroute demo` run without any file.
package examples

import _ "embed"

// Config is examples/omniroute.yaml: MRDs chat and voice, three queues,
// agents alice, bob and carol, supervisor sam (passwords "<id>-pass"),
// reason codes and the admin token "dev-admin-token".
//
//go:embed omniroute.yaml
var Config []byte
