package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// offline is a handler whose server cannot be reached: it exercises
// routing, authorization and the checks of the parameters, which come
// before any command.
func offline(t testing.TB, password string) *Handler {
	c := redis.NewClient(&redis.Options{Addr: "offline", MaxRetries: -1, DisableIdentity: true,
		Dialer: func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("offline") }})
	t.Cleanup(func() { _ = c.Close() })
	h := New(Config{Client: func(int) *redis.Client { return c }, CheckPassword: func(p string) bool { return p == password }})
	h.logins.wait = func(time.Duration) {}
	t.Cleanup(h.Close)
	return h
}

func TestLoginLimiter(t *testing.T) {
	var l loginLimiter
	now := time.Unix(0, 0)
	var got []time.Duration
	for range 10 {
		got = append(got, l.failed("a", now))
	}
	if got[0] != 10*time.Millisecond || got[1] != 20*time.Millisecond || got[9] != 2*time.Second {
		t.Errorf("delays %v", got)
	}
	if d := l.failed("b", now); d != 10*time.Millisecond {
		t.Errorf("another address: %v", d)
	}
	if d := l.failed("a", now.Add(2*time.Minute)); d != 10*time.Millisecond {
		t.Errorf("after a quiet minute: %v", d)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin, site string
		ok           bool
	}{
		{"", "", true}, {"http://dash:9380", "", true}, {"http://evil", "", false}, {"", "cross-site", false},
		{"", "same-origin", true}, {"::bad", "", false},
	} {
		r := httptest.NewRequest("POST", "http://dash:9380/api/prune", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if got := sameOrigin(r); got != tc.ok {
			t.Errorf("Origin %q Sec-Fetch-Site %q: %v", tc.origin, tc.site, got)
		}
	}
}

// FuzzAPI sends arbitrary requests to the API of a server with a
// password, signed in or not: nothing panics, every /api/ reply is JSON,
// and nothing but the session and login endpoints answers 2xx to a
// request that is not signed in.
func FuzzAPI(f *testing.F) {
	for _, s := range [][4]string{
		{"GET", "/api/keys", "db=3&pattern=a*&cursor=0&count=10", ""},
		{"GET", "/api/key", "db=0&key=%00%ff", ""},
		{"POST", "/api/delete", "", `{"db":0,"key":"k"}`},
		{"POST", "/api/config", "", `{"name":"maxkeys","value":"1"}`},
		{"POST", "/api/login", "", `{"password":"pw"}`},
		{"POST", "/api/login", "", `{"password":`},
		{"GET", "/api/lifecycle", "db=99", ""},
		{"DELETE", "/api/stats", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], true)
		f.Add(s[0], s[1], s[2], s[3], false)
	}
	h := offline(f, "pw")
	login := httptest.NewRecorder()
	h.ServeHTTP(login, httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"password":"pw"}`)))
	var sess Session
	if err := json.Unmarshal(login.Body.Bytes(), &sess); err != nil || !sess.SignedIn {
		f.Fatalf("sign-in: %s", login.Body)
	}
	cookie := login.Result().Cookies()[0]
	f.Fuzz(func(t *testing.T, method, path, query, body string, signedIn bool) {
		if !strings.HasPrefix(path, "/api/") || strings.ContainsAny(path+query, " \t\r\n#?") || method == "" ||
			strings.ContainsAny(method, " \t\r\n/()<>@,;:\\\"[]?={}") {
			return
		}
		if path == "/api/events" {
			return // a stream: it does not end by itself
		}
		r, err := http.NewRequest(method, "http://dash"+path+"?"+query, strings.NewReader(body))
		if err != nil {
			return
		}
		r.RemoteAddr = "192.0.2.1:1234"
		if signedIn {
			r.AddCookie(cookie)
			r.Header.Set(csrfHeader, sess.CSRF)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusMethodNotAllowed || w.Code/100 == 3 && w.Header().Get("Location") != "" {
			return // the mux's: a method it does not route, a path it cleans
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s?%s: %d, not JSON: %q", method, path, query, w.Code, w.Body)
		}
		if !signedIn && w.Code < 300 && path != "/api/session" && path != "/api/logout" && !(path == "/api/login" && strings.Contains(body, "pw")) {
			t.Fatalf("%s %s?%s signed out: %d %s", method, path, query, w.Code, w.Body)
		}
	})
}
