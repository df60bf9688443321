package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/epochdb/epochdb/internal/inspect"
	"github.com/epochdb/epochdb/internal/live"
)

// The collector reads the server's figures once a second while someone
// watches (an SSE stream, or an API request within the last minute), keeps
// the last historyLen seconds for new pages, and sends each reading to the
// streams. The retirement tail comes from a subscription to the store's
// lifecycle events, opened with the first viewer.

// seen notes a viewer's request and starts the collector on the first.
func (h *Handler) seen() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastSeen = time.Now()
	if h.started || h.ctx.Err() != nil {
		return
	}
	h.started = true
	h.wg.Add(2)
	go h.collect()
	go h.tail()
}

func (h *Handler) watched() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) > 0 || time.Since(h.lastSeen) < idleAfter
}

func (h *Handler) collect() {
	defer h.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if h.watched() {
			h.sample()
		}
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample takes one reading and publishes its figures, unless the latest
// reading is less than minInterval old.
func (h *Handler) sample() {
	h.sampleMu.Lock()
	defer h.sampleMu.Unlock()
	h.mu.Lock()
	fresh := time.Since(h.prev.At) < minInterval
	h.mu.Unlock()
	if fresh {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	r, err := live.Fetch(ctx, h.cfg.Client(0))
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		if h.ctx.Err() == nil && err.Error() != h.lastErr {
			h.log.Warn("dashboard: reading the server's figures failed", "err", err)
		}
		h.lastErr = err.Error()
		return
	}
	h.lastErr = ""
	prev := h.prev
	if time.Since(prev.At) > 5*time.Second {
		prev = live.Reading{} // no rate across a gap
	}
	f := live.Compute(prev, r)
	h.prev = r
	h.history = append(h.history, f)
	if len(h.history) > historyLen {
		h.history = append(h.history[:0], h.history[len(h.history)-historyLen:]...)
	}
	h.broadcastLocked("figures", f)
}

// tail follows the store's lifecycle events into the retirement tail.
func (h *Handler) tail() {
	defer h.wg.Done()
	if h.cfg.DB == nil {
		return
	}
	sub, err := h.cfg.DB.Subscribe(4096)
	if err != nil {
		h.log.Warn("dashboard: cannot follow the store's events", "err", err)
		return
	}
	defer sub.Close()
	for {
		select {
		case <-h.ctx.Done():
			return
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			r := inspect.Retirement(ev, time.Now())
			h.mu.Lock()
			h.retired = append(h.retired, r)
			if len(h.retired) > retiredLen {
				h.retired = append(h.retired[:0], h.retired[len(h.retired)-retiredLen:]...)
			}
			h.broadcastLocked("retired", r)
			h.mu.Unlock()
		}
	}
}

// broadcastLocked sends v to every stream; a stream that is behind loses
// the message (it gets the next). h.mu is held.
func (h *Handler) broadcastLocked(event string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	for ch := range h.subs {
		select {
		case ch <- streamMsg{event, b}:
		default:
		}
	}
}

// Stats is GET /api/stats's reply.
type Stats struct {
	live.Figures
	// Stale says the latest reading failed (Error says why); the figures
	// are the last good ones.
	Stale bool   `json:"stale,omitempty"`
	Error string `json:"error,omitempty"`
}

func (h *Handler) getStats(w http.ResponseWriter, r *http.Request) {
	h.sample()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.history) == 0 {
		writeError(w, http.StatusBadGateway, "no figures from the server: "+h.lastErr)
		return
	}
	writeJSON(w, http.StatusOK, Stats{Figures: h.history[len(h.history)-1], Stale: h.lastErr != "", Error: h.lastErr})
}

func (h *Handler) getHistory(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"figures": append([]live.Figures{}, h.history...),
		"retired": append([]inspect.Retired{}, h.retired...)})
}

// stream is GET /api/events: Server-Sent Events. It sends "history" (the
// figures kept and the recent retirements) first, then "figures" every
// second and "retired" for each key the store retires, and a comment line
// every 15 s so that proxies keep the connection.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ch := make(chan streamMsg, 64)
	h.mu.Lock()
	if len(h.subs) >= maxStreams {
		h.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "too many live streams open")
		return
	}
	h.subs[ch] = struct{}{}
	first, _ := json.Marshal(map[string]any{"figures": append([]live.Figures{}, h.history...),
		"retired": append([]inspect.Retired{}, h.retired...)})
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, data []byte) bool {
		// Each message must be written within the listener's write
		// timeout, counted from when it is sent.
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if event != "" {
			if _, err := w.Write([]byte("event: " + event + "\ndata: ")); err != nil {
				return false
			}
			if _, err := w.Write(data); err != nil {
				return false
			}
			if _, err := w.Write([]byte("\n\n")); err != nil {
				return false
			}
		} else if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("history", first) {
		return
	}
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.ctx.Done():
			return
		case m := <-ch:
			if !send(m.event, m.data) {
				return
			}
		case <-keep.C:
			if !send("", nil) {
				return
			}
		}
	}
}
