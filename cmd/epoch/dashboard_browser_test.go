package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"
)

// The dashboard in a real browser: Debian's chromium, headless, driven by
// chromedp against a real epoch serve. The tests fail (not skip) without
// chromium: scripts/deps.sh installs it (make test runs it first).

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run scripts/deps.sh (make test does) or apt-get install chromium")
	return ""
}

// browser is a headless chromium tab with the console errors and
// uncaught exceptions of its pages.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.mu.Lock()
				b.errors = append(b.errors, "console.error: "+strings.Join(parts, " "))
				b.mu.Unlock()
			}
		case *runtime.EventExceptionThrown:
			b.mu.Lock()
			b.errors = append(b.errors, fmt.Sprintf("exception: %s %v", ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception))
			b.mu.Unlock()
		}
	}))
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	b.ctx = ctx
	return b
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into T.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it holds or the deadline.
func waitJS(t *testing.T, b *browser, what, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.screenshot(t, "timeout")
			t.Fatalf("%s: not within %v (%s; last error %v; console: %v)", what, timeout, cond, err, b.consoleErrors())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the page as a PNG under $EPOCH_TEST_ARTIFACTS (or the
// test's temporary directory).
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := os.Getenv("EPOCH_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// fetchStatus makes the page send a request and returns the status.
func fetchStatus(t *testing.T, b *browser, method, path string, headers string) int {
	t.Helper()
	return eval[int](t, b, fmt.Sprintf(`fetch(%q, {method: %q, credentials: "same-origin", headers: %s}).then(r => r.status)`, path, method, headers))
}

// TestDashboard_Browser: with a password, the page asks for sign-in and
// every API refuses an unsigned request; signed in, the page shows live
// figures that update, a retirement of a key that expires during the test,
// finds a key in the explorer with its value, and a prune from the page
// changes the key count; an action without the CSRF token is refused.
func TestDashboard_Browser(t *testing.T) {
	o := testOptions(t)
	o.requirepass = "s3cret-pass"
	o.eventLog = true
	o.pruneMinFrequency = 1 // keys never read are pruned by "Prune now"
	o.pruneInterval = time.Hour
	resp, httpAddr := runServeInProcess(t, o)
	rc := newClient(t, resp, func(ro *redis.Options) { ro.Password = o.requirepass })
	ctx := context.Background()
	for i := range 20 {
		must(t, rc.Set(ctx, fmt.Sprintf("user:%d", i), fmt.Sprintf("name-%d", i), 0).Err())
	}
	must(t, rc.Set(ctx, "cache:page", "<h1>home</h1>", time.Hour).Err())
	must(t, rc.Set(ctx, "blob", "\x00\x01\xfe\xffbinary", 0).Err())
	for range 5 {
		must(t, rc.Get(ctx, "user:1").Err()) // user:1 is read: the pruning rule keeps it
	}
	base := "http://" + httpAddr

	b := newBrowser(t)
	b.do(t, chromedp.Navigate(base+"/"))
	waitJS(t, b, "the sign-in form", `!document.querySelector("#signin").hidden && document.querySelector("#main").hidden`, 20*time.Second)
	if got := fetchStatus(t, b, "GET", "/api/stats", "{}"); got != 401 {
		t.Errorf("GET /api/stats signed out: %d, want 401", got)
	}
	if got := fetchStatus(t, b, "POST", "/api/prune", "{}"); got != 401 {
		t.Errorf("POST /api/prune signed out: %d, want 401", got)
	}
	b.screenshot(t, "signin")

	// A wrong password, then the right one.
	signIn := chromedp.Click(chromedp.CSS(`#signin-form button`))
	b.do(t, chromedp.SendKeys(chromedp.ID("password"), "wrong"), signIn)
	waitJS(t, b, "the refusal", `document.querySelector("#signin-error").textContent.includes("wrong password")`, 20*time.Second)
	b.do(t, chromedp.Evaluate[chromedp.Void](`document.querySelector("#password").value = ""`), chromedp.SendKeys(chromedp.ID("password"), o.requirepass), signIn)
	waitJS(t, b, "the dashboard", `!document.querySelector("#main").hidden && document.querySelector("#mode").textContent === "signed in"`, 20*time.Second)

	// Live figures: the charts receive points every second.
	waitJS(t, b, "three points on the charts", `Number(document.querySelector("#chart-ops svg").dataset.points) >= 3`, 30*time.Second)
	waitJS(t, b, "points on the commands-by-family chart", `Number(document.querySelector("#chart-families svg").dataset.points) >= 3`, 30*time.Second)
	waitJS(t, b, "the WAL sync lag chart", `Number(document.querySelector("#chart-walLag svg").dataset.points) >= 3`, 30*time.Second)
	waitJS(t, b, "the key count", `document.querySelector("#value-keys").textContent === "22"`, 20*time.Second)
	must(t, rc.Set(ctx, "user:extra", "x", 0).Err())
	waitJS(t, b, "the key count update", `document.querySelector("#value-keys").textContent === "23"`, 20*time.Second)

	// The retirement tail shows a key that expires now.
	must(t, rc.Set(ctx, "token:gone", "abc", 300*time.Millisecond).Err())
	waitJS(t, b, "the retirement", `[...document.querySelectorAll("#tail tbody tr")].some(r => r.dataset.kind === "expired" && r.textContent.includes("token:gone"))`, 30*time.Second)

	// The key explorer finds a key and previews its value, binary-safe.
	b.do(t, chromedp.SetValue(chromedp.ID("pattern"), "blo*"), chromedp.Click(chromedp.CSS(`#search button`)))
	waitJS(t, b, "the search result", `document.querySelector('#results tr[data-key="blob"]')`, 20*time.Second)
	b.do(t, chromedp.Click(chromedp.CSS(`#results tr[data-key="blob"]`)))
	waitJS(t, b, "the hex preview", `document.querySelector("#detail-value").textContent.includes("00 01 fe ff 62 69")`, 20*time.Second)
	b.do(t, chromedp.SetValue(chromedp.ID("pattern"), "cache:*"), chromedp.Click(chromedp.CSS(`#search button`)))
	waitJS(t, b, "the search result", `document.querySelector('#results tr[data-key="cache:page"]')`, 20*time.Second)
	b.do(t, chromedp.Click(chromedp.CSS(`#results tr[data-key="cache:page"]`)))
	waitJS(t, b, "the text preview and TTL", `document.querySelector("#detail-value").textContent === "<h1>home</h1>" && /^59m/.test(document.querySelector("#detail-ttl").textContent)`, 20*time.Second)

	// Lifecycle views.
	waitJS(t, b, "the histograms", `document.querySelectorAll("#histograms svg rect").length > 10`, 20*time.Second)
	waitJS(t, b, "the hottest key", `document.querySelector("#hot tbody tr td").textContent === "user:1"`, 20*time.Second)
	b.screenshot(t, "signed-in")

	// An action without the CSRF token is refused, and changes nothing.
	if got := fetchStatus(t, b, "POST", "/api/prune", "{}"); got != 403 {
		t.Errorf("POST /api/prune without the CSRF token: %d, want 403", got)
	}
	if n := rc.DBSize(ctx).Val(); n != 23 {
		t.Fatalf("DBSIZE after the refused prune: %d, want 23", n)
	}
	// Signed in, Prune now removes every key never read.
	b.do(t, chromedp.Click(chromedp.ID("prune")))
	waitJS(t, b, "the prune result", `document.querySelector("#action-msg").textContent.startsWith("pruned ")`, 30*time.Second)
	if n := rc.DBSize(ctx).Val(); n != 1 {
		t.Errorf("DBSIZE after Prune now: %d, want 1 (user:1, which was read)", n)
	}
	waitJS(t, b, "the key count after the prune", `document.querySelector("#value-keys").textContent === "1"`, 20*time.Second)

	// A lifecycle setting through CONFIG SET: what the server refuses is
	// shown as its error.
	b.do(t, chromedp.SetValue(chromedp.CSS(`#settings input[data-name="maxkeys"]`), "not-a-number"),
		chromedp.Click(chromedp.CSS(`#settings tr:has(input[data-name="maxkeys"]) button`)))
	waitJS(t, b, "the setting's error", `document.querySelector("#settings-msg").textContent.includes("CONFIG SET maxkeys")`, 20*time.Second)
	// A valid one takes effect at once.
	b.do(t, chromedp.SetValue(chromedp.CSS(`#settings input[data-name="prune-grace"]`), "2h"),
		chromedp.Click(chromedp.CSS(`#settings tr:has(input[data-name="prune-grace"]) button`)))
	waitJS(t, b, "the setting's confirmation", `document.querySelector("#settings-msg").textContent.includes("prune-grace set to")`, 20*time.Second)
	if v := rc.ConfigGet(ctx, "prune-grace").Val()["prune-grace"]; v != "2h0m0s" {
		t.Errorf("CONFIG GET prune-grace after setting it from the page: %q, want 2h0m0s", v)
	}

	// Phone size.
	b.do(t, chromedp.EmulateViewport(390, 844))
	waitJS(t, b, "the page at phone size", `document.documentElement.scrollWidth <= 400`, 10*time.Second)
	b.screenshot(t, "phone")

	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

// TestDashboard_BrowserReadOnly: without a password the page opens at
// once, read-only: no action buttons, and actions are refused.
func TestDashboard_BrowserReadOnly(t *testing.T) {
	o := testOptions(t)
	resp, httpAddr := runServeInProcess(t, o)
	rc := newClient(t, resp)
	must(t, rc.Set(context.Background(), "k", "v", 0).Err())
	b := newBrowser(t)
	b.do(t, chromedp.Navigate("http://"+httpAddr+"/"))
	waitJS(t, b, "the read-only dashboard", `!document.querySelector("#main").hidden && document.querySelector("#mode").textContent === "read-only"`, 20*time.Second)
	waitJS(t, b, "the figures", `document.querySelector("#value-keys").textContent === "1"`, 20*time.Second)
	if visible := eval[bool](t, b, `document.querySelector("#prune").offsetParent !== null`); visible {
		t.Error("the prune button is shown on a read-only dashboard")
	}
	if got := fetchStatus(t, b, "POST", "/api/prune", "{}"); got != 403 {
		t.Errorf("POST /api/prune read-only: %d, want 403", got)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
