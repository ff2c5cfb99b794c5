package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omniroute/omniroute/auth"
	"github.com/omniroute/omniroute/cluster"
	"github.com/omniroute/omniroute/journal"
	"github.com/omniroute/omniroute/node"
	"github.com/omniroute/omniroute/restapi"
	"github.com/omniroute/omniroute/routing"
)

// clusterReplicas is the replica count of every stream and bucket a node
// creates: the configured one, else 3 when the NATS cluster has three or
// more servers (the ones the connection knows, given and discovered), else 1.
func clusterReplicas(nc *nats.Conn, configured int) int {
	if configured > 0 {
		return configured
	}
	if len(nc.Servers()) >= 3 {
		return 3
	}
	return 1
}

var nodeIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// defaultNodeID names a node after its host and listening port, which is
// unique among the nodes of one cluster unless two share both.
func defaultNodeID(addr string) string {
	host, _ := os.Hostname()
	_, port, _ := net.SplitHostPort(addr)
	id := strings.Trim(nodeIDUnsafe.ReplaceAllString(host+"-"+port, "-"), "-")
	if len(id) > 64 {
		id = id[len(id)-64:]
	}
	if id == "" {
		id = "node"
	}
	return id
}

// openCluster joins the cluster named in o and returns the node
// configuration part that makes the node a replica.
func (s *Server) openCluster(ctx context.Context, o Options, replicas int) (*node.Replica, error) {
	if o.NATSURL == "" {
		return nil, errors.New("server: cluster mode needs --nats-url (the NATS JetStream cluster the nodes share)")
	}
	id := o.NodeID
	if id == "" {
		id = defaultNodeID(s.Addr())
	}
	var err error
	s.cluster, err = cluster.Open(ctx, s.nc, cluster.Options{Name: o.Cluster, NodeID: id, URL: s.publicURL,
		Replicas: replicas, LeaseTTL: o.LeaseTTL, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("server: cluster: %w", err)
	}
	secret, err := cluster.SharedSecret(ctx, s.nc, o.Cluster, replicas)
	if err != nil {
		return nil, fmt.Errorf("server: cluster: %w", err)
	}
	s.sharedSecret = secret
	shared, ok := s.journal.(journal.Shared)
	if !ok {
		return nil, errors.New("server: cluster mode needs a shared journal")
	}
	return &node.Replica{Journal: shared, NodeID: id, Forward: s.cluster.Forward, OnStepDown: s.cluster.OnStepDown}, nil
}

// registerClusterMetrics exports the node's part in the cluster.
func (s *Server) registerClusterMetrics(reg *prometheus.Registry) {
	if s.cluster == nil {
		return
	}
	n, c := s.node, s.cluster
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	gauge("omniroute_cluster_leader", "1 while this node is the cluster's leader, 0 while it follows.", func() float64 {
		if n.Role() == node.RoleLeader {
			return 1
		}
		return 0
	})
	gauge("omniroute_cluster_term", "Term of the lease last seen (the KV revision of the create that won it).",
		func() float64 { return float64(c.Status().Term) })
	gauge("omniroute_cluster_lag_entries", "Journal entries beyond the last one this node applied (0 on the leader).",
		func() float64 {
			if n.Role() == node.RoleLeader {
				return 0
			}
			return float64(n.Stats().LagEntries)
		})
	counter("omniroute_cluster_forwarded_commands_total", "Commands this node forwarded to the leader.",
		func() float64 { return float64(n.Stats().Forwarded) })
	counter("omniroute_cluster_forwarded_in_total", "Commands this node applied as leader for followers.",
		func() float64 { return float64(c.Status().ForwardedIn) })
	counter("omniroute_cluster_duplicate_commands_total", "Retried commands not applied again (same command id).",
		func() float64 { return float64(n.Stats().Duplicates) })
	counter("omniroute_cluster_failovers_total", "Times this node won the lease and took over.",
		func() float64 { return float64(c.Status().Failovers) })
	counter("omniroute_cluster_step_downs_total", "Times this node stopped leading (lease lost or append refused).",
		func() float64 { return float64(n.Stats().StepDowns) })
}

// readyInfo is what /readyz adds in cluster mode: this node's role and
// node id, the leader it knows, the term, the last entry it applied and
// how far behind the journal it is. Nil in single-node mode (the answer
// stays {"status":"ready"}).
func (s *Server) readyInfo() func() map[string]any {
	if s.cluster == nil {
		return nil
	}
	return func() map[string]any {
		st, cs := s.node.Stats(), s.cluster.Status()
		lag := st.LagEntries
		if s.node.Role() == node.RoleLeader {
			lag = 0
		}
		return map[string]any{"role": string(s.node.Role()), "node": cs.Node, "cluster": cs.Cluster,
			"leader": cs.Leader, "leaderUrl": cs.LeaderURL, "term": cs.Term, "lastSeq": st.LastSeq, "lagEntries": lag}
	}
}

// Cluster returns the cluster membership, nil in single-node mode.
func (s *Server) Cluster() *cluster.Cluster { return s.cluster }

// clusterHandler serves GET /v1/cluster (admin token): this node's
// readiness fields (role, node, leader, term, lastSeq, lagEntries) plus
// the digest of its routing state (routing.State.Digest), so that an
// operator or a test can see that every node holds the same state at rest:
//
//	{"role":"follower","node":"n2","leader":"n1","term":7,"lastSeq":812,"lagEntries":0,"digest":"9f..."}
//
// 404 CLUSTER_OFF in single-node mode.
func (s *Server) clusterHandler() http.Handler {
	admin := s.bearerIs(auth.Admin)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !admin(r) {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(restapi.ErrorBody{Error: restapi.ErrorDetail{Code: "UNAUTHORIZED", Message: "an admin bearer token is required"}})
			return
		}
		if s.cluster == nil {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(restapi.ErrorBody{Error: restapi.ErrorDetail{Code: "CLUSTER_OFF", Message: "single-node mode"}})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		body := s.readyInfo()()
		var digest string
		var seq uint64
		err := s.node.View(ctx, func(st routing.View) { digest = st.Digest() })
		if err == nil {
			seq = s.node.Stats().LastSeq
		}
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(restapi.ErrorBody{Error: restapi.ErrorDetail{Code: restapi.CodeUnavailable, Message: err.Error()}})
			return
		}
		body["digest"], body["lastSeq"] = digest, seq
		_ = json.NewEncoder(w).Encode(body)
	})
}

// clusterConnOptions make a cluster node notice a NATS server that stopped
// answering (a partition, a frozen process) within seconds instead of the
// client's default minutes, and move to another server of the cluster:
// pings every 2 s, two unanswered ones mean the server is gone, and a
// write that blocks 2 s fails the connection. Single-node mode keeps the
// client defaults.
func clusterConnOptions(name string) []nats.Option {
	if name == "" {
		return nil
	}
	return []nats.Option{nats.PingInterval(2 * time.Second), nats.MaxPingsOutstanding(2), nats.FlusherTimeout(2 * time.Second)}
}

// memberAlive returns whether a node of this cluster reported within
// cluster.MemberTTL (agentdesk.Desks: a desk connected to a dead node is
// not connected). The member list is read at most once a second; when it
// cannot be read every node counts as alive.
func (s *Server) memberAlive() func(node string) bool {
	var (
		mu     sync.Mutex
		readAt time.Time
		alive  map[string]bool
	)
	return func(node string) bool {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(readAt) >= time.Second {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			ms, _, err := cluster.Members(ctx, s.nc, s.cluster.Name())
			cancel()
			readAt = time.Now()
			if err != nil {
				alive = nil
			} else {
				alive = map[string]bool{}
				for _, m := range ms {
					alive[m.Node] = true
				}
			}
		}
		return alive == nil || alive[node]
	}
}
