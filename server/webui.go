package server

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/webui"
)

// startUI opens the history bucket and starts the web UI on the server's
// node, auth and conversation layer.
func startUI(ctx context.Context, s *Server, c *config.Config, reg prometheus.Registerer, clock *node.Clock) (*webui.UI, error) {
	store, err := webui.OpenKV(ctx, s.nc)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ui, err := webui.New(ctx, s.node, s.auth, webui.Options{Logger: s.log, Customers: s.conv, CustomerKeys: s.customerKeys, Store: store, Now: clock.Now,
		Targets: webui.Targets{Default: c.Wallboard.ServiceLevelTarget, Queues: c.Wallboard.Queues}})
	if err != nil {
		return nil, err
	}
	if err := ui.Register(reg); err != nil {
		ui.Close()
		return nil, fmt.Errorf("server: web UI metrics: %w", err)
	}
	return ui, nil
}
