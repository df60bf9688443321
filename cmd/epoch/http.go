package main

import (
	"net/http"
	"sync/atomic"

	"github.com/epochdb/epochdb"
)

// httpRoutes are handlers mounted on the HTTP listener (--http-addr) beside
// /healthz, each added from its own file in this directory by an init
// function; metrics.go mounts /metrics this way:
//
//	func init() {
//		httpRoutes = append(httpRoutes, func(mux *http.ServeMux, db *epochdb.DB) {
//			mux.Handle("GET /metrics", metricsHandler(db))
//		})
//	}
var httpRoutes []func(mux *http.ServeMux, db *epochdb.DB)

// newHTTPHandler returns the HTTP side of epoch serve. /healthz answers 200
// "ok" while the server serves and accepts writes, and 503 with the reason
// once it shuts down or the store refuses writes (an engine failure: a
// full disk, an I/O error).
func newHTTPHandler(db *epochdb.DB, stopping *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if stopping.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("shutting down\n"))
			return
		}
		if err := db.Health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("unhealthy: " + err.Error() + "\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	for _, route := range httpRoutes {
		route(mux, db)
	}
	return mux
}
