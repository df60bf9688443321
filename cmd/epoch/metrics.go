package main

import (
	"net/http"
	"strings"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/cluster"
	"github.com/epochdb/epochdb/promexport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// /metrics on the HTTP listener (--http-addr): the database's metrics
// (promexport), raft's on a cluster node (epochdb_raft_*), the Go
// runtime's (go_*), the process's (process_*) and the handler's own
// (promhttp_*), in Prometheus's text format.
func init() {
	httpRoutes = append(httpRoutes, func(mux *http.ServeMux, db *epochdb.DB, node *cluster.Node) {
		mux.Handle("GET /metrics", metricsHandler(db, node))
	})
}

// metricsHandler serves db's metrics, and node's if not nil, from a
// registry of its own: nothing is registered in
// prometheus.DefaultRegisterer, so several servers (or tests) in one
// process do not collide.
func metricsHandler(db *epochdb.DB, node *cluster.Node) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		promexport.NewCollector(db, nil),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if node != nil {
		reg.MustRegister(raftCollector{node})
	}
	return promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:            reg, // promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,   // a scrape is cheap; a flood of them is not served in parallel
	}))
}

// raftCollector exports a cluster node's raft figures (cluster.Metrics),
// read at each scrape.
type raftCollector struct{ node *cluster.Node }

func raftDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("epochdb_raft_"+name, help, labels, nil)
}

var (
	raftState         = raftDesc("state", "Raft state of this node: 1 for the state it is in (leader, follower, candidate, shutdown), 0 for the others.", "state")
	raftTerm          = raftDesc("term", "Current raft term.")
	raftCommitIndex   = raftDesc("commit_index", "Index of the last log entry known to be committed.")
	raftAppliedIndex  = raftDesc("applied_index", "Index of the last log entry applied to the store.")
	raftApplyLag      = raftDesc("apply_lag_entries", "Committed log entries not yet applied (commit index minus applied index).")
	raftLastLogIndex  = raftDesc("last_log_index", "Index of the last entry in this node's log.")
	raftFirstLogIndex = raftDesc("first_log_index", "Index of the oldest entry this node's log still holds (compaction moves it up; 0 while empty).")
	raftLastContact   = raftDesc("last_contact_seconds", "Time since this node last heard from the leader; 0 on the leader, absent if never.")
	raftLeaderChanges = raftDesc("leader_changes_total", "Leaders this node has seen elected since it started.")
	raftSnapIndex     = raftDesc("last_snapshot_index", "Log index of this node's newest raft snapshot (0: none).")
	raftSnapshots     = raftDesc("snapshots_total", "Snapshots of the store this node took since it started, by outcome (ok, error).", "outcome")
	raftSnapDuration  = raftDesc("last_snapshot_duration_seconds", "Time the last successful snapshot took to write.")
	raftSnapBytes     = raftDesc("last_snapshot_size_bytes", "Size of the last successful snapshot.")
	raftInstalls      = raftDesc("snapshot_installs_total", "Snapshots installed over this node's store since it started (a leader's, sent because the node was behind the compacted log), by outcome (ok, error).", "outcome")
	raftInstallTime   = raftDesc("last_snapshot_install_duration_seconds", "Time the last successful snapshot install took.")
	raftDescs         = []*prometheus.Desc{raftState, raftTerm, raftCommitIndex, raftAppliedIndex, raftApplyLag, raftLastLogIndex,
		raftFirstLogIndex, raftLastContact, raftLeaderChanges, raftSnapIndex, raftSnapshots, raftSnapDuration, raftSnapBytes,
		raftInstalls, raftInstallTime}
)

func (c raftCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range raftDescs {
		ch <- d
	}
}

func (c raftCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.node.Metrics()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, s := range []string{"leader", "follower", "candidate", "shutdown"} {
		v := 0.0
		if strings.EqualFold(m.State, s) {
			v = 1
		}
		gauge(raftState, v, s)
	}
	gauge(raftTerm, float64(m.Term))
	gauge(raftCommitIndex, float64(m.CommitIndex))
	gauge(raftAppliedIndex, float64(m.AppliedIndex))
	gauge(raftApplyLag, float64(m.ApplyLag()))
	gauge(raftLastLogIndex, float64(m.LastLogIndex))
	gauge(raftFirstLogIndex, float64(m.FirstLogIndex))
	if m.LastContact >= 0 {
		gauge(raftLastContact, m.LastContact.Seconds())
	}
	counter(raftLeaderChanges, float64(m.LeaderChanges))
	gauge(raftSnapIndex, float64(m.LastSnapshotIndex))
	counter(raftSnapshots, float64(m.Snapshots), "ok")
	counter(raftSnapshots, float64(m.SnapshotFailures), "error")
	gauge(raftSnapDuration, m.LastSnapshotDuration.Seconds())
	gauge(raftSnapBytes, float64(m.LastSnapshotBytes))
	counter(raftInstalls, float64(m.Restores), "ok")
	counter(raftInstalls, float64(m.RestoreFailures), "error")
	gauge(raftInstallTime, m.LastRestoreDuration.Seconds())
}
