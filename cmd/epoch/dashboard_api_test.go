package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/epochdb/epochdb/internal/testutil"
	"github.com/redis/go-redis/v9"
)

// apiCall sends a request to the dashboard's API and decodes a JSON reply
// into out (if not nil); it returns the status and the raw body.
func apiCall(t *testing.T, c *http.Client, method, url string, body any, hdr map[string]string, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		must(t, err)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, url, rd)
	must(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	must(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	must(t, err)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

// TestDashboardAPI_Read: without a password the API reads without
// sign-in: /api/stats, a paged key search, a binary-safe value preview,
// and clear errors for bad parameters.
func TestDashboardAPI_Read(t *testing.T) {
	resp, httpAddr := runServeInProcess(t, testOptions(t))
	rc := newClient(t, resp)
	ctx := context.Background()
	for i := range 30 {
		must(t, rc.Set(ctx, fmt.Sprintf("item:%02d", i), "v", 0).Err())
	}
	pipe := rc.Pipeline()
	for i := range 600 {
		pipe.Set(ctx, fmt.Sprintf("many:%04d", i), strings.Repeat("m", 100), 0)
	}
	_, err := pipe.Exec(ctx)
	must(t, err)
	bin := "\x00\xff" + strings.Repeat("z", 5000)
	must(t, rc.Set(ctx, "bin", bin, time.Hour).Err())
	base := "http://" + httpAddr
	c := http.DefaultClient

	var st struct {
		Keys        int64              `json:"keys"`
		KeysWithTTL int64              `json:"keys_with_ttl"`
		Ops         map[string]float64 `json:"ops"`
		Version     string             `json:"version"`
	}
	if code, body := apiCall(t, c, "GET", base+"/api/stats", nil, nil, &st); code != 200 {
		t.Fatalf("/api/stats: %d %s", code, body)
	}
	if st.Keys != 631 || st.KeysWithTTL != 1 || st.Version == "" {
		t.Errorf("/api/stats: %+v", st)
	}

	// Every key of the pattern, page by page, once.
	seen := map[string]int{}
	cursor := "0"
	for range 100 {
		var page struct {
			Cursor string `json:"cursor"`
			Keys   []struct {
				Key string `json:"key"`
			} `json:"keys"`
		}
		if code, body := apiCall(t, c, "GET", base+"/api/keys?pattern=item:*&count=7&cursor="+cursor, nil, nil, &page); code != 200 {
			t.Fatalf("/api/keys: %d %s", code, body)
		}
		for _, k := range page.Keys {
			seen[k.Key]++
		}
		if cursor = page.Cursor; cursor == "0" {
			break
		}
	}
	if len(seen) != 30 {
		t.Errorf("the search found %d keys, want 30", len(seen))
	}
	for k, n := range seen {
		if n != 1 || !strings.HasPrefix(k, "item:") {
			t.Errorf("key %q listed %d times", k, n)
		}
	}

	// A full page of 500 keys in one request.
	var big struct {
		Keys []struct {
			Key        string `json:"key"`
			ValueBytes int    `json:"value_bytes"`
		} `json:"keys"`
	}
	if code, body := apiCall(t, c, "GET", base+"/api/keys?pattern=many:*&count=500", nil, nil, &big); code != 200 || len(big.Keys) < 400 || big.Keys[0].ValueBytes != 100 {
		t.Fatalf("/api/keys count=500: %d, %d keys %.200s", code, len(big.Keys), body)
	}

	var ki struct {
		ValueBytes     int    `json:"value_bytes"`
		ValueBase64    string `json:"value_base64"`
		ValueTruncated bool   `json:"value_truncated"`
		TTLMs          int64  `json:"ttl_ms"`
		Frequency      uint64 `json:"frequency"`
	}
	if code, body := apiCall(t, c, "GET", base+"/api/key?key=bin", nil, nil, &ki); code != 200 {
		t.Fatalf("/api/key: %d %s", code, body)
	}
	v, err := base64.StdEncoding.DecodeString(ki.ValueBase64)
	must(t, err)
	if ki.ValueBytes != len(bin) || !ki.ValueTruncated || string(v) != bin[:4096] || ki.TTLMs <= 0 {
		t.Errorf("/api/key bin: %d bytes, truncated %v, preview %q…, ttl %d", ki.ValueBytes, ki.ValueTruncated, v[:4], ki.TTLMs)
	}
	if f := rc.ObjectFreq(ctx, "bin").Val(); f != 0 {
		t.Errorf("the preview counted as an access: frequency %d", f)
	}

	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/api/key?key=nope", 404, "not found"},
		{"/api/key", 400, "key: missing"},
		{"/api/keys?db=16", 400, "db:"},
		{"/api/keys?count=0", 400, "count:"},
		{"/api/keys?cursor=abc", 400, "cursor:"},
		{"/api/keys?pattern=" + strings.Repeat("x", 2000), 400, "pattern:"},
		{"/api/lifecycle?db=-1", 400, "db:"},
		{"/api/nothing", 404, "no such API"},
	} {
		code, body := apiCall(t, c, "GET", base+tc.path, nil, nil, nil)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d %s, want %d %q", tc.path, code, body, tc.code, tc.want)
		}
	}
	var lc struct {
		Stats struct {
			Keys    int64 `json:"keys"`
			Sampled bool  `json:"sampled"`
		} `json:"stats"`
		Expiring struct {
			Keys []struct {
				Key string `json:"key"`
			} `json:"keys"`
		} `json:"expiring"`
	}
	if code, body := apiCall(t, c, "GET", base+"/api/lifecycle", nil, nil, &lc); code != 200 {
		t.Fatalf("/api/lifecycle: %d %s", code, body)
	}
	if lc.Stats.Keys != 631 || lc.Stats.Sampled || len(lc.Expiring.Keys) != 1 || lc.Expiring.Keys[0].Key != "bin" {
		t.Errorf("/api/lifecycle: %+v", lc)
	}
	// Read-only: no action, whoever asks.
	if code, body := apiCall(t, c, "POST", base+"/api/delete", map[string]any{"db": 0, "key": "bin"}, nil, nil); code != 403 || !strings.Contains(body, "read-only") {
		t.Errorf("POST /api/delete without a password: %d %s", code, body)
	}
	if code, _ := apiCall(t, c, "POST", base+"/metrics", nil, nil, nil); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", code)
	}
}

// TestDashboardAPI_Events: /api/events streams the history, then figures
// every second and the keys the store retires.
func TestDashboardAPI_Events(t *testing.T) {
	resp, httpAddr := runServeInProcess(t, testOptions(t))
	rc := newClient(t, resp)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+httpAddr+"/api/events", nil)
	must(t, err)
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	next := func() (string, string) {
		var event string
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				event = e
			} else if d, ok := strings.CutPrefix(line, "data: "); ok {
				return event, d
			}
		}
		t.Fatalf("the stream ended: %v", sc.Err())
		return "", ""
	}
	if ev, _ := next(); ev != "history" {
		t.Fatalf("first event %q, want history", ev)
	}
	must(t, rc.Set(context.Background(), "short", "lived", 200*time.Millisecond).Err())
	var figures, retired bool
	for !figures || !retired {
		ev, data := next()
		switch ev {
		case "figures":
			var f struct {
				Keys int64 `json:"keys"`
				T    int64 `json:"t"`
			}
			must(t, json.Unmarshal([]byte(data), &f))
			figures = figures || f.T > 0
		case "retired":
			var r struct {
				Key  string `json:"key"`
				Kind string `json:"kind"`
				DB   int    `json:"db"`
			}
			must(t, json.Unmarshal([]byte(data), &r))
			if r.Key != "short" || r.Kind != "expired" || r.DB != 0 {
				t.Fatalf("retired %+v", r)
			}
			retired = true
		}
	}
}

// TestDashboardAPI_Auth: with a password (and --http-auth) every API needs
// sign-in, the page signs in, actions need the session's CSRF token (or the
// password as a bearer token), and settings go through CONFIG SET.
func TestDashboardAPI_Auth(t *testing.T) {
	o := testOptions(t)
	o.requirepass = "api-secret"
	o.httpAuth = true
	o.pruneMinFrequency = 1
	o.pruneInterval = time.Hour
	resp, httpAddr := runServeInProcess(t, o)
	rc := newClient(t, resp, func(ro *redis.Options) { ro.Password = o.requirepass })
	ctx := context.Background()
	must(t, rc.Set(ctx, "doomed", "x", 0).Err())
	must(t, rc.Set(ctx, "victim", "y", 0).Err())
	base := "http://" + httpAddr
	jar, err := cookiejar.New(nil)
	must(t, err)
	c := &http.Client{Jar: jar}

	for _, p := range []string{"/api/stats", "/api/events", "/api/keys", "/api/history", "/api/config", "/metrics"} {
		if code, _ := apiCall(t, c, "GET", base+p, nil, nil, nil); code != 401 {
			t.Errorf("GET %s signed out: %d, want 401", p, code)
		}
	}
	if code, body := apiCall(t, c, "GET", base+"/", nil, nil, nil); code != 200 || !strings.Contains(body, "Sign in") {
		t.Errorf("GET / signed out: %d (want the sign-in page)", code)
	}
	var sess struct {
		PasswordSet bool   `json:"password_set"`
		SignedIn    bool   `json:"signed_in"`
		CSRF        string `json:"csrf"`
	}
	apiCall(t, c, "GET", base+"/api/session", nil, nil, &sess)
	if !sess.PasswordSet || sess.SignedIn {
		t.Errorf("session signed out: %+v", sess)
	}
	if code, body := apiCall(t, c, "POST", base+"/api/login", map[string]string{"password": "nope"}, nil, nil); code != 401 || !strings.Contains(body, "wrong password") {
		t.Errorf("wrong password: %d %s", code, body)
	}
	if code, body := apiCall(t, c, "POST", base+"/api/login", "not an object", nil, nil); code != 400 {
		t.Errorf("bad login body: %d %s", code, body)
	}
	if code, body := apiCall(t, c, "POST", base+"/api/login", map[string]string{"password": o.requirepass}, nil, &sess); code != 200 || sess.CSRF == "" {
		t.Fatalf("sign-in: %d %s", code, body)
	}
	if code, body := apiCall(t, c, "GET", base+"/api/stats", nil, nil, nil); code != 200 {
		t.Errorf("GET /api/stats signed in: %d %s", code, body)
	}
	if code, _ := apiCall(t, c, "GET", base+"/metrics", nil, nil, nil); code != 401 {
		t.Errorf("/metrics keeps its own rule (the password): %d", code)
	}

	csrf := map[string]string{"X-CSRF-Token": sess.CSRF}
	del := map[string]any{"db": 0, "key": "victim"}
	if code, body := apiCall(t, c, "POST", base+"/api/delete", del, nil, nil); code != 403 || !strings.Contains(body, "CSRF") {
		t.Errorf("delete without the CSRF token: %d %s", code, body)
	}
	if code, _ := apiCall(t, c, "POST", base+"/api/delete", del, map[string]string{"X-CSRF-Token": "forged"}, nil); code != 403 {
		t.Errorf("delete with a wrong CSRF token: %d", code)
	}
	if code, _ := apiCall(t, c, "POST", base+"/api/delete", del, map[string]string{"X-CSRF-Token": sess.CSRF, "Origin": "http://evil.example"}, nil); code != 403 {
		t.Errorf("delete from another origin: %d", code)
	}
	if n := rc.Exists(ctx, "victim").Val(); n != 1 {
		t.Fatal("a refused delete removed the key")
	}
	var deleted struct {
		Deleted int `json:"deleted"`
	}
	if code, body := apiCall(t, c, "POST", base+"/api/delete", del, csrf, &deleted); code != 200 || deleted.Deleted != 1 {
		t.Errorf("delete: %d %s", code, body)
	}
	if code, body := apiCall(t, c, "POST", base+"/api/delete", map[string]any{"key": "x"}, csrf, nil); code != 400 {
		t.Errorf("delete without db: %d %s", code, body)
	}
	var pr map[string]any
	if code, body := apiCall(t, c, "POST", base+"/api/prune", nil, csrf, &pr); code != 200 || pr["removed"] != float64(1) {
		t.Errorf("prune: %d %s", code, body)
	}
	if n := rc.DBSize(ctx).Val(); n != 0 {
		t.Errorf("DBSIZE after the prune: %d", n)
	}
	// Settings go through CONFIG SET: what the server refuses is its error.
	if code, body := apiCall(t, c, "POST", base+"/api/config", map[string]string{"name": "maxkeys", "value": "nonsense"}, csrf, nil); code != 400 || !strings.Contains(body, "CONFIG SET maxkeys") {
		t.Errorf("config maxkeys nonsense: %d %s", code, body)
	}
	if code, body := apiCall(t, c, "POST", base+"/api/config", map[string]string{"name": "notify-keyspace-events", "value": "Ex"}, csrf, nil); code != 200 {
		t.Errorf("config notify-keyspace-events: %d %s", code, body)
	}
	if got := rc.ConfigGet(ctx, "notify-keyspace-events").Val()["notify-keyspace-events"]; got != "xE" && got != "Ex" {
		t.Errorf("notify-keyspace-events after the setting: %q", got)
	}
	if code, body := apiCall(t, c, "POST", base+"/api/config", map[string]string{"name": "requirepass", "value": "x"}, csrf, nil); code != 400 || !strings.Contains(body, "not a lifecycle setting") {
		t.Errorf("config requirepass: %d %s", code, body)
	}
	// A script: the password as a bearer token, no cookie, no CSRF token.
	var bk struct {
		Path string `json:"path"`
	}
	if code, body := apiCall(t, http.DefaultClient, "POST", base+"/api/backup", nil, map[string]string{"Authorization": "Bearer " + o.requirepass}, &bk); code != 200 || !strings.HasSuffix(bk.Path, ".backup") {
		t.Errorf("backup with a bearer token: %d %s", code, body)
	}
	// Signed out, the cookie is worth nothing.
	if code, _ := apiCall(t, c, "POST", base+"/api/logout", nil, csrf, nil); code != 200 {
		t.Errorf("logout: %d", code)
	}
	if code, _ := apiCall(t, c, "GET", base+"/api/stats", nil, nil, nil); code != 401 {
		t.Errorf("GET /api/stats signed out again: %d", code)
	}
}

// TestDashboardAPI_TLS: with RESP over TLS only, the dashboard still
// reads its server (its in-memory connection speaks TLS too).
func TestDashboardAPI_TLS(t *testing.T) {
	o := testOptions(t)
	o.tlsCert, o.tlsKey, _ = testutil.SelfSigned(t, t.TempDir())
	_, httpAddr := runServeInProcess(t, o)
	var st struct {
		Keys *int64 `json:"keys"`
	}
	if code, body := apiCall(t, http.DefaultClient, "GET", "http://"+httpAddr+"/api/stats", nil, nil, &st); code != 200 || st.Keys == nil {
		t.Fatalf("/api/stats: %d %s", code, body)
	}
}
