package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"slices"
)

// Channel is a customer channel's back end (a web-chat server, a
// messaging connector): its token creates conversations and speaks for
// their customer, nothing else (issue 13 item 5). Channel tokens are never
// Principals of Verify, so no route but the customer side of restapi
// (which calls VerifyChannel) can mistake one for an agent or an admin.
type Channel struct {
	// ID names the channel; conversations it creates carry it in the
	// ChannelAttribute attribute.
	ID string
	// Token is the bearer token.
	Token string
	// Queues the channel may create conversations in; empty: any.
	Queues []string
}

// ChannelAttribute is the conversation attribute naming the channel that
// created it; only that channel acts for its customer.
const ChannelAttribute = "omniroute.channel"

type channelToken struct {
	sum [sha256.Size]byte
	ch  Channel
}

func (a *Authenticator) addChannels(chs []Channel) error {
	seen := map[string]bool{}
	for _, c := range chs {
		if c.ID == "" || c.Token == "" {
			return fmt.Errorf("auth: channel %q: empty id or token", c.ID)
		}
		if seen[c.ID] {
			return fmt.Errorf("auth: channel %q twice", c.ID)
		}
		seen[c.ID] = true
		sum := sha256.Sum256([]byte(c.Token))
		c.Queues, c.Token = slices.Clone(c.Queues), "" // only the digest is kept
		a.channels = append(a.channels, channelToken{sum: sum, ch: c})
	}
	return nil
}

// VerifyChannel returns the channel whose token this is. Every configured
// token is compared (constant time in the tokens' contents and lengths).
// Errors: ErrUnauthorized.
func (a *Authenticator) VerifyChannel(token string) (Channel, error) {
	if token == "" || len(token) > MaxTokenBytes {
		return Channel{}, ErrUnauthorized
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range a.channels {
		if subtle.ConstantTimeCompare(sum[:], a.channels[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Channel{}, ErrUnauthorized
	}
	c := a.channels[found].ch
	c.Queues = slices.Clone(c.Queues)
	return c, nil
}

// MayUseQueue says whether the channel may create conversations in queue.
func (c Channel) MayUseQueue(queue string) bool {
	return len(c.Queues) == 0 || slices.Contains(c.Queues, queue)
}
