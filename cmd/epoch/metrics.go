package main

import (
	"net/http"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/promexport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// /metrics on the HTTP listener (--http-addr): the database's metrics
// (promexport), the Go runtime's (go_*), the process's (process_*) and the
// handler's own (promhttp_*), in Prometheus's text format.
func init() {
	httpRoutes = append(httpRoutes, func(mux *http.ServeMux, db *epochdb.DB) {
		mux.Handle("GET /metrics", metricsHandler(db))
	})
}

// metricsHandler serves db's metrics from a registry of its own: nothing is
// registered in prometheus.DefaultRegisterer, so several servers (or tests)
// in one process do not collide.
func metricsHandler(db *epochdb.DB) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		promexport.NewCollector(db, nil),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:            reg, // promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,   // a scrape is cheap; a flood of them is not served in parallel
	}))
}
