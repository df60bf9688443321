package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/epochdb/epochdb"
	"github.com/epochdb/epochdb/internal/inspect"
	"github.com/epochdb/epochdb/internal/live"
	"github.com/redis/go-redis/v9"
)

// numDBs is the server's logical databases (SELECT 0-15).
const numDBs = 16

// Query parsing: every parameter is checked, and a bad one is a 400 that
// names it.

type badRequest string

func (e badRequest) Error() string { return string(e) }

func queryDB(r *http.Request) (int, error) {
	s := r.URL.Query().Get("db")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= numDBs {
		return 0, badRequest(fmt.Sprintf("db: %q is not a database number 0-%d", s, numDBs-1))
	}
	return n, nil
}

func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, badRequest(fmt.Sprintf("%s: %q is not an integer %d-%d", name, s, lo, hi))
	}
	return n, nil
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	var br badRequest
	switch {
	case errors.As(err, &br):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, epochdb.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		writeError(w, errStatus(err), err.Error())
	}
}

func (h *Handler) reqCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 20*time.Second)
}

// Lifecycle is GET /api/lifecycle's reply: the lifecycle views of one
// database. Stats's histograms, and the key lists, come from a sample on a
// store of more than inspect.DefaultSampleAbove keys (their "sampled"
// says so); the preview is exact (it reads every key).
type Lifecycle struct {
	DB       int              `json:"db"`
	At       time.Time        `json:"at"`
	Stats    *inspect.Stats   `json:"stats"`
	Hot      *inspect.Keys    `json:"hot"`
	Cold     *inspect.Keys    `json:"cold"`
	Expiring *inspect.Keys    `json:"expiring"`
	Preview  *inspect.Preview `json:"preview"`
}

func (h *Handler) getLifecycle(w http.ResponseWriter, r *http.Request) {
	db, err := queryDB(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.mu.Lock()
	c, ok := h.lifecycle[db]
	h.mu.Unlock()
	if ok && time.Since(c.at) < lifecycleTTL && r.URL.Query().Get("fresh") == "" {
		writeJSON(w, http.StatusOK, c.val)
		return
	}
	ctx, cancel := h.reqCtx(r)
	defer cancel()
	cl := h.cfg.Client(db)
	l := &Lifecycle{DB: db, At: time.Now().UTC(), Stats: &inspect.Stats{}, Hot: &inspect.Keys{}, Cold: &inspect.Keys{},
		Expiring: &inspect.Keys{}, Preview: &inspect.Preview{}}
	for _, q := range []struct {
		req inspect.Request
		out any
	}{
		{inspect.Request{Op: "stats", DB: -1, SampleAbove: inspect.DefaultSampleAbove}, l.Stats},
		{inspect.Request{Op: "hot", DB: db, Limit: 10}, l.Hot},
		{inspect.Request{Op: "cold", DB: db, Limit: 10}, l.Cold},
		{inspect.Request{Op: "expiring", DB: db, Limit: 10}, l.Expiring},
		{inspect.Request{Op: "prune-preview", DB: db, Limit: 10}, l.Preview},
	} {
		if err := live.Inspect(ctx, cl, q.req, q.out); err != nil {
			h.fail(w, fmt.Errorf("EPOCH.INSPECT %s: %w", q.req.Op, err))
			return
		}
	}
	h.mu.Lock()
	h.lifecycle[db] = cachedLifecycle{at: time.Now(), val: l}
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, l)
}

// KeyPage is GET /api/keys's reply: one SCAN step's keys with their
// metadata. Cursor "0" means the iteration is complete.
type KeyPage struct {
	DB     int               `json:"db"`
	Cursor string            `json:"cursor"`
	Keys   []inspect.KeyInfo `json:"keys"`
}

// getKeys is GET /api/keys?db=&pattern=&cursor=&count=: one SCAN step
// (SCAN cursor MATCH pattern COUNT count), then each key's metadata
// (EPOCH.INSPECT meta, in one pipeline). A key gone in between is left out.
func (h *Handler) getKeys(w http.ResponseWriter, r *http.Request) {
	db, err := queryDB(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	count, err := queryInt(r, "count", 50, 1, maxScanCount)
	if err != nil {
		h.fail(w, err)
		return
	}
	q := r.URL.Query()
	pattern := q.Get("pattern")
	if pattern == "" {
		pattern = "*"
	}
	if len(pattern) > maxPatternBytes {
		h.fail(w, badRequest(fmt.Sprintf("pattern: longer than %d bytes", maxPatternBytes)))
		return
	}
	cursor := q.Get("cursor")
	if cursor == "" {
		cursor = "0"
	}
	if _, err := strconv.ParseUint(cursor, 10, 64); err != nil {
		h.fail(w, badRequest(fmt.Sprintf("cursor: %q is not a SCAN cursor", cursor)))
		return
	}
	ctx, cancel := h.reqCtx(r)
	defer cancel()
	cl := h.cfg.Client(db)
	res, err := cl.Do(ctx, "SCAN", cursor, "MATCH", pattern, "COUNT", count).Slice()
	if err != nil {
		h.fail(w, fmt.Errorf("SCAN: %w", err))
		return
	}
	if len(res) != 2 {
		h.fail(w, fmt.Errorf("SCAN: a reply of %d elements", len(res)))
		return
	}
	page := KeyPage{DB: db, Cursor: fmt.Sprint(res[0]), Keys: []inspect.KeyInfo{}}
	names, _ := res[1].([]any)
	// Pipelines of metaBatch commands: their replies stay well below what
	// the server buffers before it writes (an in-memory connection has no
	// buffer of its own).
	const metaBatch = 50
	cmds := make([]*redis.Cmd, 0, len(names))
	for len(names) > 0 {
		pipe := cl.Pipeline()
		for _, n := range names[:min(len(names), metaBatch)] {
			b, _ := json.Marshal(inspect.Request{Op: "meta", DB: db, Key: fmt.Sprint(n)})
			cmds = append(cmds, pipe.Do(ctx, "EPOCH.INSPECT", string(b)))
		}
		names = names[min(len(names), metaBatch):]
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			h.fail(w, fmt.Errorf("EPOCH.INSPECT meta: %w", err))
			return
		}
	}
	for _, c := range cmds {
		s, err := c.Text()
		if err != nil {
			continue // gone since the SCAN
		}
		var ki inspect.KeyInfo
		if json.Unmarshal([]byte(s), &ki) == nil {
			page.Keys = append(page.Keys, ki)
		}
	}
	writeJSON(w, http.StatusOK, page)
}

// getKey is GET /api/key?db=&key=: the key's metadata and the first
// previewBytes of its value, base64-encoded (binary-safe), without
// counting an access.
func (h *Handler) getKey(w http.ResponseWriter, r *http.Request) {
	db, err := queryDB(r)
	if err != nil {
		h.fail(w, err)
		return
	}
	q := r.URL.Query()
	if !q.Has("key") {
		h.fail(w, badRequest("key: missing"))
		return
	}
	ctx, cancel := h.reqCtx(r)
	defer cancel()
	var ki inspect.KeyInfo
	if err := live.Inspect(ctx, h.cfg.Client(db), inspect.Request{Op: "get", DB: db, Key: q.Get("key"), ValueMax: previewBytes}, &ki); err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ki)
}

// lifecycleParams are the settings the settings form shows. Which of
// them CONFIG SET accepts is the server's to say.
var lifecycleParams = []string{
	"maxkeys", "maxdisk", "maxmemory-policy", "lfu-half-life",
	"prune-min-frequency", "prune-idle", "prune-grace", "prune-interval", "prune-skip-ttl-keys",
	"event-log-max-entries", "event-log-max-age", "notify-keyspace-events",
}

// Setting is one lifecycle setting.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (h *Handler) getConfig(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.reqCtx(r)
	defer cancel()
	m, err := h.cfg.Client(0).ConfigGet(ctx, "*").Result()
	if err != nil {
		h.fail(w, err)
		return
	}
	out := []Setting{}
	for _, p := range lifecycleParams {
		if v, ok := m[p]; ok {
			out = append(out, Setting{p, v})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func decodeBody(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return badRequest("the body must be JSON: " + err.Error())
	}
	return nil
}

// setConfig is POST /api/config {"name","value"}: CONFIG SET through the
// server, so whatever the server can change at run time, the dashboard can.
func (h *Handler) setConfig(w http.ResponseWriter, r *http.Request) {
	var s Setting
	if err := decodeBody(r, &s); err != nil {
		h.fail(w, err)
		return
	}
	if !isLifecycleParam(s.Name) {
		h.fail(w, badRequest(fmt.Sprintf("name: %q is not a lifecycle setting (one of %v)", s.Name, lifecycleParams)))
		return
	}
	ctx, cancel := h.reqCtx(r)
	defer cancel()
	if err := h.cfg.Client(0).ConfigSet(ctx, s.Name, s.Value).Err(); err != nil {
		h.fail(w, fmt.Errorf("CONFIG SET %s: %w", s.Name, err))
		return
	}
	h.log.Info("dashboard: setting changed", "name", s.Name, "value", s.Value, "from", clientHost(r))
	h.dropLifecycleCache()
	writeJSON(w, http.StatusOK, s)
}

func isLifecycleParam(name string) bool {
	for _, p := range lifecycleParams {
		if p == name {
			return true
		}
	}
	return false
}

func (h *Handler) dropLifecycleCache() {
	h.mu.Lock()
	clear(h.lifecycle)
	h.mu.Unlock()
}

// backup is POST /api/backup: EPOCH.BACKUP, a new backup file in the
// server's backup directory.
func (h *Handler) backup(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Minute)
	defer cancel()
	path, err := h.cfg.Client(0).Do(ctx, "EPOCH.BACKUP").Text()
	if err != nil {
		h.fail(w, fmt.Errorf("EPOCH.BACKUP: %w", err))
		return
	}
	h.log.Info("dashboard: backup", "path", path, "from", clientHost(r))
	writeJSON(w, http.StatusOK, map[string]string{"path": path})
}

// prune is POST /api/prune: EPOCH.PRUNE NOW, one pass of the pruning rule.
func (h *Handler) prune(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Minute)
	defer cancel()
	v, err := h.cfg.Client(0).Do(ctx, "EPOCH.PRUNE", "NOW").Result()
	if err != nil {
		h.fail(w, fmt.Errorf("EPOCH.PRUNE NOW: %w", err))
		return
	}
	out := map[string]any{}
	switch v := v.(type) {
	case map[any]any:
		for k, x := range v {
			out[fmt.Sprint(k)] = x
		}
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			out[fmt.Sprint(v[i])] = v[i+1]
		}
	}
	h.log.Info("dashboard: prune", "result", out, "from", clientHost(r))
	h.dropLifecycleCache()
	writeJSON(w, http.StatusOK, out)
}

// deleteKey is POST /api/delete {"db","key"}: DEL.
func (h *Handler) deleteKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DB  *int    `json:"db"`
		Key *string `json:"key"`
	}
	if err := decodeBody(r, &body); err != nil {
		h.fail(w, err)
		return
	}
	if body.Key == nil || body.DB == nil || *body.DB < 0 || *body.DB >= numDBs {
		h.fail(w, badRequest(`the body must name the key: {"db": 0-15, "key": "..."}`))
		return
	}
	ctx, cancel := h.reqCtx(r)
	defer cancel()
	n, err := h.cfg.Client(*body.DB).Del(ctx, *body.Key).Result()
	if err != nil {
		h.fail(w, fmt.Errorf("DEL: %w", err))
		return
	}
	h.dropLifecycleCache()
	writeJSON(w, http.StatusOK, map[string]int64{"deleted": n})
}
