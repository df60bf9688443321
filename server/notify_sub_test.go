package server

import (
	"testing"
	"time"
)

// TestServer_LifecycleSubscriptionFollowsNotifyConfig: the server
// subscribes to the library's lifecycle events only while notifications
// of expired or evicted keys are on.
func TestServer_LifecycleSubscriptionFollowsNotifyConfig(t *testing.T) {
	ts := startServer(t)
	subscribed := func() bool {
		ts.srv.evMu.Lock()
		defer ts.srv.evMu.Unlock()
		return ts.srv.events != nil
	}
	rc := ts.dial(t)
	if subscribed() {
		t.Fatal("subscribed to lifecycle events with notifications off")
	}
	eq(t, "only set events", rc.do("CONFIG", "SET", "notify-keyspace-events", "K$"), "+OK")
	if subscribed() {
		t.Fatal("subscribed to lifecycle events without expired/evicted notifications")
	}
	eq(t, "expired events", rc.do("CONFIG", "SET", "notify-keyspace-events", "Ex"), "+OK")
	if !subscribed() {
		t.Fatal("not subscribed with expired notifications on")
	}
	sub := ts.dial(t)
	sub.send(encodeCommand("SUBSCRIBE", "__keyevent@0__:expired"))
	eq(t, "subscribe", sub.read(), `["subscribe" "__keyevent@0__:expired" :1]`)
	eq(t, "SET", rc.do("SET", "k", "v", "PX", "10"), "+OK")
	ts.clock.Advance(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for ts.db.Stats().Expired == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the sweeper runs on a real ticker
	}
	eq(t, "notification", sub.read(), `["message" "__keyevent@0__:expired" "k"]`)
	eq(t, "off", rc.do("CONFIG", "SET", "notify-keyspace-events", ""), "+OK")
	if subscribed() {
		t.Fatal("still subscribed after notifications were turned off")
	}
}
