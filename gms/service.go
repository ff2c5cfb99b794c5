package gms

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/omniroute/omniroute/routing"
	"github.com/omniroute/omniroute/routing/target"
)

// GMS option names a ServiceSpec accepts in Options (seed 003 "Configuration
// Options"; values are strings, as in the GMS Service Management UI).
const (
	OptMediaType            = "_media_type"            // "chat" (the only media served)
	OptWaitForAgent         = "_wait_for_agent"        // "true" (required: Chat Delayed)
	OptWaitForUserConfirm   = "_wait_for_user_confirm" // "true" (required: Chat Delayed)
	OptTarget               = "_target"                // URS target string (routing/target)
	OptURSServerURL         = "_urs_server_url"        // accepted, ignored (logged): no URS here
	OptURSVirtualQueue      = "_urs_virtual_queue"     // kept as the attribute gms_virtual_queue
	OptURSPrioritization    = "_urs_prioritization_strategy"
	OptURSStrategyUpdateSub = "_urs_strategy_update_sub_routine"
)

var knownOptions = []string{OptMediaType, OptWaitForAgent, OptWaitForUserConfirm, OptTarget, OptURSServerURL,
	OptURSVirtualQueue, OptURSPrioritization, OptURSStrategyUpdateSub}

// Defaults and limits of a service.
const (
	// DefaultConfirmationSeconds is how long an agent is held for the
	// customer's confirmation (connect + ixn/chat) when the spec says 0.
	DefaultConfirmationSeconds = 60
	// DefaultHoldAttempts is how many holds a callback gets when the spec says 0.
	DefaultHoldAttempts = 1
	// MaxHoldAttempts bounds holdAttempts.
	MaxHoldAttempts = 10
	// DefaultAgentReadyEWTSeconds and DefaultAgentReadyPosition are the
	// limits behind _agent_ready_threshold_passed (seed 003's reason
	// "eta <= 35 and position <=5").
	DefaultAgentReadyEWTSeconds = 35
	DefaultAgentReadyPosition   = 5
	// MaxServices bounds the configured services; MaxOptionBytes an option value.
	MaxServices    = 1000
	MaxOptionBytes = target.MaxLength
	// MaxServiceNameBytes bounds a service name (a path segment).
	MaxServiceNameBytes = 128
)

// ServiceSpec configures one GMS callback service: the config file's
// gmsServices entries and the body of PUT /genesys/1/admin/services/{name}
// (JSON, same keys). Durations are seconds.
//
//	name: chat-delay
//	options: {_media_type: chat, _wait_for_agent: "true", _wait_for_user_confirm: "true",
//	          _target: "chat-support@StatServer.Q", _urs_virtual_queue: VQ_chat}
//	defaultQueue: chat-support     # for GA/skill targets no queue matches
//	confirmationSeconds: 60        # agent hold window
//	holdAttempts: 1
//	ttlSeconds: 0                  # 0: the queue's TTL
//	agentReadyEwtSeconds: 35
//	agentReadyPosition: 5
//	username: ""                   # optional HTTP basic auth
//	password: ""
//
// How _target picks the queue (the engine routes queues, not URS targets):
// a Q target names the queue id (the first Q target that exists wins);
// a GA target names the queue whose id is the group name, else, for a skill
// expression (?:...@X.GA), the first queue (by id) whose required skills
// satisfy the expression; else DefaultQueue. Other target types (A, AP, GP,
// DN, GC, RP, DL) are accepted and fall to DefaultQueue. A target that
// selects no queue and no DefaultQueue is refused. The engine resolves the
// target as it creates the callback (routing.CreateConversation.Target), so
// a queue defined or removed meanwhile is seen.
type ServiceSpec struct {
	Name                 string            `json:"name" yaml:"name"`
	Options              map[string]string `json:"options" yaml:"options"`
	DefaultQueue         string            `json:"defaultQueue,omitempty" yaml:"defaultQueue"`
	Priority             int               `json:"priority,omitempty" yaml:"priority"`
	ConfirmationSeconds  float64           `json:"confirmationSeconds,omitempty" yaml:"confirmationSeconds"`
	HoldAttempts         int               `json:"holdAttempts,omitempty" yaml:"holdAttempts"`
	TTLSeconds           float64           `json:"ttlSeconds,omitempty" yaml:"ttlSeconds"`
	AgentReadyEWTSeconds float64           `json:"agentReadyEwtSeconds,omitempty" yaml:"agentReadyEwtSeconds"`
	AgentReadyPosition   int               `json:"agentReadyPosition,omitempty" yaml:"agentReadyPosition"`
	Username             string            `json:"username,omitempty" yaml:"username"`
	Password             string            `json:"password,omitempty" yaml:"password"`
	// MaxLiveCallbacks is the service's own cap on callbacks not yet
	// completed (0: DefaultServiceMaxLive); start-callback beyond it is
	// 503.
	MaxLiveCallbacks int `json:"maxLiveCallbacks,omitempty" yaml:"maxLiveCallbacks"`
}

// Validate checks the spec alone (not whether its queues exist): the name,
// known option names and values, the target's syntax, and the numbers.
// It returns every problem joined.
func (s ServiceSpec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.MaxLiveCallbacks < 0 {
		bad("maxLiveCallbacks must not be negative")
	}
	if !validName(s.Name) {
		bad("name must have 1..%d bytes of letters, digits, '-', '_' or '.'", MaxServiceNameBytes)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Options)) {
		v := s.Options[k]
		if !slices.Contains(knownOptions, k) {
			bad("unknown option %q (known: %s)", clip(k), strings.Join(knownOptions, ", "))
			continue
		}
		if len(v) > MaxOptionBytes {
			bad("option %s is over %d bytes", k, MaxOptionBytes)
		}
	}
	if mt, ok := s.Options[OptMediaType]; ok && mt != "chat" {
		bad("option %s must be \"chat\" (Chat Delayed), not %q", OptMediaType, clip(mt))
	}
	for _, k := range []string{OptWaitForAgent, OptWaitForUserConfirm} {
		if v, ok := s.Options[k]; ok {
			if b, err := strconv.ParseBool(v); err != nil || !b {
				bad("option %s must be \"true\" (Chat Delayed), not %q", k, clip(v))
			}
		}
	}
	t, ok := s.Options[OptTarget]
	if !ok || strings.TrimSpace(t) == "" {
		bad("option %s is required", OptTarget)
	} else if _, err := target.Parse(t); err != nil {
		bad("option %s: %v", OptTarget, err)
	}
	if s.DefaultQueue != "" && len(s.DefaultQueue) > routing.MaxIDLength {
		bad("defaultQueue over %d bytes", routing.MaxIDLength)
	}
	if s.Priority < 0 || s.Priority > routing.MaxPriority {
		bad("priority must be 0..%d", routing.MaxPriority)
	}
	maxSec := routing.MaxDuration.Seconds()
	for _, d := range []struct {
		name string
		v    float64
	}{{"confirmationSeconds", s.ConfirmationSeconds}, {"ttlSeconds", s.TTLSeconds}, {"agentReadyEwtSeconds", s.AgentReadyEWTSeconds}} {
		if d.v < 0 || d.v > maxSec || d.v != d.v {
			bad("%s must be 0..%.0f", d.name, maxSec)
		}
	}
	if s.HoldAttempts < 0 || s.HoldAttempts > MaxHoldAttempts {
		bad("holdAttempts must be 0..%d", MaxHoldAttempts)
	}
	if s.AgentReadyPosition < 0 || s.AgentReadyPosition > routing.MaxWaitingRequests {
		bad("agentReadyPosition must be 0..%d", routing.MaxWaitingRequests)
	}
	if (s.Username == "") != (s.Password == "") {
		bad("username and password go together")
	}
	if len(s.Username) > 256 || len(s.Password) > 256 || strings.Contains(s.Username, ":") {
		bad("username must have no ':' and both username and password at most 256 bytes")
	}
	return errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" || len(s) > MaxServiceNameBytes {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// service is a validated spec. Its target is resolved by the engine
// (CreateConversation.Target) as each callback is created.
type service struct {
	spec ServiceSpec
}

// maxLive is the service's cap on live callbacks.
func (sv *service) maxLive() int {
	if sv.spec.MaxLiveCallbacks > 0 {
		return sv.spec.MaxLiveCallbacks
	}
	return DefaultServiceMaxLive
}

func newService(s ServiceSpec) (*service, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &service{spec: s}, nil
}

func (sv *service) confirmSeconds() float64 {
	if sv.spec.ConfirmationSeconds > 0 {
		return sv.spec.ConfirmationSeconds
	}
	return DefaultConfirmationSeconds
}

func (sv *service) holdAttempts() int {
	if sv.spec.HoldAttempts > 0 {
		return sv.spec.HoldAttempts
	}
	return DefaultHoldAttempts
}

func (sv *service) readyEWT() float64 {
	if sv.spec.AgentReadyEWTSeconds > 0 {
		return sv.spec.AgentReadyEWTSeconds
	}
	return DefaultAgentReadyEWTSeconds
}

func (sv *service) readyPosition() int {
	if sv.spec.AgentReadyPosition > 0 {
		return sv.spec.AgentReadyPosition
	}
	return DefaultAgentReadyPosition
}
