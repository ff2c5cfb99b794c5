package config

import "fmt"

func (c *Config) validateChannels(p *problems, queues map[string]bool) {
	seen := map[string]bool{}
	for i, ch := range c.Auth.Channels {
		w := fmt.Sprintf("auth.channels[%d]", i)
		if ch.ID == "" {
			p.addf(w, "id is required")
		}
		dup(p, w, seen, ch.ID)
		if ch.Token == "" {
			p.addf(w, "token is required")
		} else if len(ch.Token) < MinAdminTokenBytes {
			c.Warnings = append(c.Warnings, w+": token shorter than "+fmt.Sprint(MinAdminTokenBytes)+" characters; use a long random token outside demos")
		}
		for _, t := range c.Auth.AdminTokens {
			if t != "" && t == ch.Token {
				p.addf(w, "token is also an admin token; a channel's token must be its own")
			}
		}
		for _, q := range ch.Queues {
			if !queues[q] {
				p.addf(w, "queue %q is not declared", q)
			}
		}
	}
}
