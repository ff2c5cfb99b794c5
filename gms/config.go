package gms

import (
	"fmt"

	"github.com/omniroute/omniroute/config"
	"github.com/omniroute/omniroute/routing/target"
)

// The config file's gmsServices section is this package's: a list of
// ServiceSpec (same keys as the admin API's JSON), decoded and checked by
// config.Parse through the registration below.
func init() { config.RegisterSection("gmsServices", checkServices) }

// Services returns the config file's gmsServices (nil when the file has
// none), as config.Parse decoded and validated them.
func Services(c *config.Config) []ServiceSpec {
	specs, _ := c.GMSServices.Value().([]ServiceSpec)
	return specs
}

// checkServices validates gmsServices: each spec (ServiceSpec.Validate),
// unique names, at most MaxServices, a declared defaultQueue, and Q targets
// that name declared queues.
func checkServices(c *config.Config, specs []ServiceSpec, r config.SectionReport) {
	if len(specs) > MaxServices {
		r.Errorf("%d entries, more than the limit of %d", len(specs), MaxServices)
	}
	queues := map[string]bool{}
	for _, q := range c.Queues {
		queues[q.ID] = true
	}
	names := map[string]bool{}
	for i, sv := range specs {
		r.Item(i, sv.Name, sv.Validate())
		if sv.Name != "" && names[sv.Name] {
			r.Item(i, sv.Name, fmt.Errorf("duplicate id %q", sv.Name))
		}
		names[sv.Name] = true
		if sv.DefaultQueue != "" && !queues[sv.DefaultQueue] {
			r.Item(i, sv.Name, fmt.Errorf("defaultQueue %q is not declared", sv.DefaultQueue))
		}
		if l, err := target.Parse(sv.Options[OptTarget]); err == nil {
			for _, t := range l {
				if t.Type == target.Queue && !queues[t.Name] {
					r.Item(i, sv.Name, fmt.Errorf("_target names queue %q, which is not declared", t.Name))
				}
			}
		}
	}
}
