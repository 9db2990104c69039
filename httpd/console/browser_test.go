package console_test

// Browser tests: the console in a real headless Chromium (Debian's
// chromium package) driven by chromedp, against a real server on
// 127.0.0.1:0. They are skipped when no browser is installed (set
// MINIDBGO_CHROME to a browser's path, or install chromium), or when
// MINIDBGO_BROWSER_TESTS=off; with MINIDBGO_REQUIRE_BROWSER set (.ci/run
// sets it) a missing browser fails them instead. A screenshot of each page is written to
// $MINIDBGO_CONSOLE_SCREENSHOTS (default: the test's temporary
// directory).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/minidbgo/minidbgo/docstore"
	"github.com/minidbgo/minidbgo/httpd"
	"github.com/minidbgo/minidbgo/storage"
	"github.com/minidbgo/minidbgo/storage/vfs"
)

const (
	readKey  = "console-read-key-0123"
	writeKey = "console-write-key-0123"
	adminKey = "console-admin-key-0123"
)

// chromePath finds a browser, or "" when there is none.
func chromePath() string {
	if p := os.Getenv("MINIDBGO_CHROME"); p != "" {
		return p
	}
	// Debian's /usr/bin/chromium is a shell script that fails to start
	// the browser with the DevTools pipe; its binary does not.
	if _, err := os.Stat("/usr/lib/chromium/chromium"); err == nil {
		return "/usr/lib/chromium/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// server is a MiniDBGo server with three API keys on 127.0.0.1:0.
type server struct {
	t   *testing.T
	db  *docstore.DB
	url string
}

func newServer(t *testing.T) *server {
	t.Helper()
	keys, err := httpd.ParseKeys(readKey + ":read," + writeKey + ":write," + adminKey + ":admin")
	require.NoError(t, err)
	return newServerKeys(t, keys)
}

// newServerKeys is newServer with these keys (nil: authentication off).
func newServerKeys(t *testing.T, keys *httpd.Keys) *server {
	t.Helper()
	db, err := docstore.Open("db", &docstore.Options{Storage: &storage.Options{FS: vfs.NewMem()}})
	require.NoError(t, err)
	srv := httpd.New(db, httpd.Config{Keys: keys, StatsInterval: 500 * time.Millisecond})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
		require.NoError(t, db.Close())
	})
	return &server{t: t, db: db, url: ts.URL}
}

// do sends an API request with the admin key and returns status and body.
func (s *server) do(method, path, body string, hdr ...string) (int, string) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp.StatusCode, string(b)
}

// doc reads a document from the database itself.
func (s *server) doc(col, id string) map[string]any {
	s.t.Helper()
	d, err := s.db.Get(context.Background(), col, id)
	require.NoError(s.t, err)
	var m map[string]any
	require.NoError(s.t, json.Unmarshal(d.JSON, &m))
	return m
}

// browser is a headless Chromium; tab opens a new tab (its own session
// storage) that fails the test on any uncaught script error.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if os.Getenv("MINIDBGO_BROWSER_TESTS") == "off" {
		t.Skip("MINIDBGO_BROWSER_TESTS=off")
	}
	path := chromePath()
	if path == "" {
		if os.Getenv("MINIDBGO_REQUIRE_BROWSER") != "" {
			t.Fatal("MINIDBGO_REQUIRE_BROWSER is set and no Chromium was found (apt-get install chromium, or set MINIDBGO_CHROME)")
		}
		t.Skip("no Chromium found (apt-get install chromium, or set MINIDBGO_CHROME)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	require.NoError(t, chromedp.Do(bctx), "start %s", path)
	shots := os.Getenv("MINIDBGO_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	return &browser{t: t, ctx: bctx, shots: shots}
}

type tab struct {
	t   *testing.T
	b   *browser
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

func (b *browser) tab(t *testing.T) *tab {
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	tb := &tab{t: t, b: b, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.mu.Lock()
			tb.errors = append(tb.errors, msg)
			tb.mu.Unlock()
		case *page.EventJavascriptDialogOpening:
			// confirm() dialogs are accepted (not from the listener itself).
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		require.Empty(t, tb.errors, "uncaught script errors")
	})
	return tb
}

// run runs actions with a deadline, failing the test on error.
func (tb *tab) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	runT(tb, what, chromedp.Steps(actions...))
}

// runT runs one action that returns a value.
func runT[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		text, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.getElementById('status').textContent + ' | ' + document.body.innerText.slice(0, 2000)`))
		tb.t.Fatalf("%s: %v\npage: %s", what, err, text)
	}
	return v
}

// wait polls a JavaScript expression until it is truthy.
func (tb *tab) wait(what, expr string) {
	tb.t.Helper()
	runT(tb, what, chromedp.Poll[any](expr, chromedp.WithPollingTimeout(12*time.Second)))
}

// eval evaluates a JavaScript expression; evalT returns its value.
func (tb *tab) eval(expr string) {
	tb.t.Helper()
	runT(tb, "evaluate "+expr, chromedp.Evaluate[any](expr))
}

func evalT[T any](tb *tab, expr string, opts ...chromedp.EvaluateOption) T {
	tb.t.Helper()
	return runT(tb, "evaluate "+expr, chromedp.Evaluate[T](expr, opts...))
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return runT(tb, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// shot saves a full-page PNG screenshot.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	buf := runT(tb, "screenshot "+name, chromedp.FullScreenshot(100))
	require.True(tb.t, bytes.HasPrefix(buf, []byte("\x89PNG")), "screenshot is a PNG")
	require.NoError(tb.t, os.WriteFile(filepath.Join(tb.b.shots, name+".png"), buf, 0o644))
}

// submit clicks a form's submit button, as a user does (form.submit()
// would not fire the submit event, and the page's CSP forbids it).
func submit(form string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS("#" + form + " [type=submit]"))
}

// login opens the console and signs in with key. base is the server's
// root (a proxy's prefix, or none).
func (tb *tab) login(base, key string) {
	tb.t.Helper()
	u, err := url.Parse(base)
	require.NoError(tb.t, err)
	tb.run("open the console", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("key")))
	var loc string
	loc = evalT[string](tb, `location.pathname`)
	require.Equal(tb.t, u.Path+"/console/", loc, "/ redirects to the console")
	tb.run("sign in", chromedp.SendKeys(chromedp.ID("key"), key), submit("login-form"),
		chromedp.WaitVisible(chromedp.ID("nav")))
	tb.wait("collections page", `document.querySelector('#collections') !== null`)
	var inURL bool
	inURL = evalT[bool](tb, fmt.Sprintf(`location.href.includes(%q)`, key))
	require.False(tb.t, inURL, "the key is never in the URL")
}

func (tb *tab) goTo(hash, ready string) {
	tb.t.Helper()
	// The same hash again renders the page again, as a reload would.
	tb.eval(fmt.Sprintf(`location.hash === %[1]q ? dispatchEvent(new HashChangeEvent('hashchange')) : (location.hash = %[1]q)`, hash))
	tb.wait("page "+hash, ready)
	tb.labelled()
}

// labelled fails when a form control of the page has no label, or a
// button no name.
func (tb *tab) labelled() {
	tb.t.Helper()
	bad := evalT[[]string](tb, `[...document.querySelectorAll('input, select, textarea, button')]
		.filter(el => el.offsetParent !== null)
		.filter(el => el.tagName === 'BUTTON' ? !(el.textContent.trim() || el.getAttribute('aria-label'))
			: !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
		.map(el => el.outerHTML.slice(0, 120))`)
	require.Empty(tb.t, bad, "controls without a label")
}

// TestConsoleBrowser walks through every page with a write (admin) key,
// then checks what a read-only key sees.
func TestConsoleBrowser(t *testing.T) {
	b := newBrowser(t)
	s := newServer(t)
	tb := b.tab(t)
	tb.login(s.url, adminKey)
	require.Equal(t, "admin key", tb.text("#role"))
	tb.labelled()
	tb.shot("login-done")

	t.Run("collections", func(t *testing.T) {
		tb.run("create people", chromedp.SendKeys(chromedp.ID("new-col"), "people"), submit("create-collection"))
		tb.wait("people listed", `document.querySelector('#collections tr[data-name="people"]') !== null`)
		tb.run("create scratch", chromedp.SendKeys(chromedp.ID("new-col"), "scratch"), submit("create-collection"))
		tb.wait("scratch listed", `document.querySelector('#collections tr[data-name="scratch"]') !== null`)
		// Dropping asks for the name.
		tb.run("drop scratch", chromedp.Click(chromedp.CSS(`button[aria-label="Drop scratch"]`)), chromedp.WaitVisible(chromedp.ID("drop-confirm")))
		var disabled bool
		tb.run("type a wrong name", chromedp.SendKeys(chromedp.ID("drop-confirm"), "scratc"))
		disabled = evalT[bool](tb, `document.querySelector('dialog button[type=submit]').disabled`)
		require.True(t, disabled, "Drop is disabled until the name is typed")
		tb.run("type the name", chromedp.SendKeys(chromedp.ID("drop-confirm"), "h"))
		disabled = evalT[bool](tb, `document.querySelector('dialog button[type=submit]').disabled`)
		require.False(t, disabled)
		tb.run("confirm", chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)))
		tb.wait("scratch gone", `document.querySelector('#collections tr[data-name="scratch"]') === null && document.querySelector('#collections tr[data-name="people"]') !== null`)
		cols, err := s.db.Collections()
		require.NoError(t, err)
		require.Len(t, cols, 1)
		require.Equal(t, "people", cols[0].Name)
		tb.shot("collections")
	})

	t.Run("documents", func(t *testing.T) {
		tb.goTo("#/documents/people", `document.querySelector('#new-doc') !== null`)
		tb.run("new document", chromedp.Click(chromedp.ID("new-doc")), chromedp.WaitVisible(chromedp.ID("doc-json")))
		// Invalid JSON is refused before anything is sent.
		tb.run("bad JSON", chromedp.SetValue(chromedp.ID("doc-json"), `{"_id": "ada", "name": }`), chromedp.Click(chromedp.ID("doc-save")))
		tb.wait("validation message", `document.querySelector('#doc-msg').textContent.includes('not valid JSON') && document.querySelector('#doc-json').getAttribute('aria-invalid') === 'true'`)
		cols, _ := s.db.Collections()
		require.Zero(t, cols[0].DocCount, "nothing was saved")

		tb.run("insert", chromedp.SetValue(chromedp.ID("doc-json"), `{"_id": "ada", "name": "Ada", "born": 1815, "big": 12345678901234567890}`), chromedp.Click(chromedp.ID("doc-save")))
		tb.wait("saved", `document.querySelector('#doc-msg').textContent.startsWith('Saved')`)
		tb.wait("row", `document.querySelector('#docs tr[data-id="ada"]') !== null`)
		require.Equal(t, "Ada", s.doc("people", "ada")["name"])

		// Edit: open from the table, change, save with If-Match.
		tb.run("close", chromedp.Click(chromedp.ID("doc-close")))
		tb.wait("closed", `document.querySelector('#editor').hidden`)
		tb.run("open ada", chromedp.Click(chromedp.CSS(`#docs tr[data-id="ada"] button`)))
		tb.wait("editor shows ada", `!document.querySelector('#editor').hidden && `+`document.querySelector('#editor-title').textContent === 'Document ada' && document.querySelector('#doc-json').value.includes('"Ada"')`)
		var shown string
		shown = evalT[string](tb, `document.querySelector('#doc-json').value`)
		require.Contains(t, shown, "12345678901234567890", "big integers are shown exactly")
		tb.eval(`(() => { const ta = document.querySelector('#doc-json'); ta.value = ta.value.replace('"Ada"', '"Ada Lovelace"'); })()`)
		tb.run("save edit", chromedp.Click(chromedp.ID("doc-save")))
		tb.wait("saved edit", `document.querySelector('#doc-msg').textContent.startsWith('Saved (revision')`)
		d := s.doc("people", "ada")
		require.Equal(t, "Ada Lovelace", d["name"])
		_, body := s.do("GET", "/api/people/ada", "")
		require.Contains(t, body, "12345678901234567890", "the big integer was saved as typed")

		// Someone else changes the document meanwhile: saving is a clear conflict.
		st, _ := s.do("PUT", "/api/people/ada", `{"_id":"ada","name":"Countess of Lovelace","born":1815}`)
		require.Equal(t, http.StatusOK, st)
		tb.eval(`(() => { const ta = document.querySelector('#doc-json'); ta.value = ta.value.replace('"Ada Lovelace"', '"A. A. Lovelace"'); })()`)
		tb.run("save stale", chromedp.Click(chromedp.ID("doc-save")))
		tb.wait("conflict", `document.querySelector('#doc-msg').textContent.startsWith('Conflict')`)
		require.Equal(t, "Countess of Lovelace", s.doc("people", "ada")["name"], "the stale edit was not saved")
		tb.shot("documents-conflict")
		tb.run("reload", chromedp.Click(chromedp.ID("doc-reload")))
		tb.wait("reloaded", `document.querySelector('#doc-json').value.includes('Countess')`)

		// More documents, two pages of 10.
		var many []string
		for i := range 14 {
			many = append(many, fmt.Sprintf(`{"_id":"p%02d","name":"person %d","born":%d}`, i, i, 1900+i*7))
		}
		st, body = s.do("POST", "/api/people/_insertMany", "["+strings.Join(many, ",")+"]")
		require.Equal(t, http.StatusCreated, st, body)
		// Chosen columns (a nested path would be "a.b"); each row still opens.
		tb.run("columns", chromedp.SetValue(chromedp.ID("columns"), "name, born"), chromedp.Click(chromedp.Search(`//form[.//input[@id='columns']]//button[@type='submit']`)))
		tb.wait("columns shown", `[...document.querySelectorAll('#docs thead th')].map(th => th.textContent).join('|') === 'name|born|Open' && document.querySelector('#docs tr[data-id="ada"] button').textContent === 'Open'`)
		tb.eval(`document.querySelector('#columns').value = ''`)
		tb.run("all columns", chromedp.Click(chromedp.Search(`//form[.//input[@id='columns']]//button[@type='submit']`)))
		tb.wait("default columns", `document.querySelector('#docs thead th').textContent === '_id'`)
		tb.run("10 per page", chromedp.SetValue(chromedp.ID("page-size"), "10"))
		tb.eval(`document.querySelector('#page-size').dispatchEvent(new Event('change'))`)
		tb.wait("first page", `document.querySelectorAll('#docs tbody tr').length === 10`)
		tb.run("next page", chromedp.Click(chromedp.Search(`//button[contains(., 'Next')]`)))
		tb.wait("second page", `document.querySelectorAll('#docs tbody tr').length === 5 && document.body.innerText.includes('Page 2')`)
		tb.shot("documents")
		// Delete (after the confirm() dialog, which the tab accepts) a
		// document whose id is a collection route's name: the console
		// escapes its underscore (api/people/%5Ffind).
		st, _ = s.do("POST", "/api/people", `{"_id":"_find"}`)
		require.Equal(t, http.StatusCreated, st)
		tb.goTo("#/collections", `document.querySelector('#collections') !== null`)
		tb.goTo("#/documents/people", `document.querySelector('#new-doc') !== null`)
		tb.wait("_find listed", `document.querySelector('#docs tr[data-id="_find"]') !== null`)
		tb.run("open _find", chromedp.Click(chromedp.CSS(`#docs tr[data-id="_find"] button`)))
		tb.wait("editor shows _find", `!document.querySelector('#editor').hidden && document.querySelector('#editor-title').textContent === 'Document _find'`)
		tb.run("delete _find", chromedp.Click(chromedp.ID("doc-delete")))
		tb.wait("_find gone", `document.querySelector('#docs tr[data-id="_find"]') === null && document.querySelector('#editor').hidden`)
		_, err := s.db.Get(context.Background(), "people", "_find")
		require.Error(t, err, "_find was deleted")
	})

	t.Run("query", func(t *testing.T) {
		tb.goTo("#/query/people", `document.querySelector('#q-filter') !== null`)
		// Bad input: caught before sending, or explained by the server.
		tb.run("not JSON", chromedp.SetValue(chromedp.ID("q-filter"), `{born: 1}`), submit("query-form"))
		tb.wait("local error", `document.querySelector('#query-form .msg.error').textContent.startsWith('The filter is not valid JSON')`)
		tb.run("bad operator", chromedp.SetValue(chromedp.ID("q-filter"), `{"born": {"$nope": 1}}`), submit("query-form"))
		tb.wait("server error", `/\(400 [a-z_]+\)$/.test(document.querySelector('#status').textContent) && document.querySelector('#status').getAttribute('role') === 'alert'`)
		tb.run("run query", chromedp.SetValue(chromedp.ID("q-filter"), `{"born": {"$gte": 1950}}`),
			chromedp.SetValue(chromedp.ID("q-sort"), "-born"), submit("query-form"))
		tb.wait("plan", `document.querySelector('#plan [data-stage="COLLSCAN"]') !== null`)
		require.Contains(t, tb.text("#plan"), "docs examined: 15")
		require.Contains(t, tb.text("#plan"), "SORT")
		require.Regexp(t, `^6 documents in [0-9.]+ ms`, tb.text("#timing"))
		tb.shot("query")
	})

	t.Run("indexes", func(t *testing.T) {
		tb.goTo("#/indexes/people", `document.querySelector('#ix-fields') !== null`)
		require.NotNil(t, tb, "the TTL input is there")
		var ttl bool
		ttl = evalT[bool](tb, `document.querySelector('#ix-ttl') !== null && document.querySelector('label[for="ix-ttl"]') !== null`)
		require.True(t, ttl)
		tb.run("create index", chromedp.SendKeys(chromedp.ID("ix-fields"), "born"), submit("create-index"))
		tb.wait("index listed", `document.querySelector('#indexes tbody tr[data-name]') !== null`)
		require.Contains(t, tb.text("#indexes"), "born")
		tb.shot("indexes")
		// The query now walks the index.
		tb.goTo("#/query/people", `document.querySelector('#q-filter') !== null && document.querySelector('#q-filter').value !== ''`)
		tb.run("rerun query", submit("query-form"))
		tb.wait("IXSCAN", `document.querySelector('#plan [data-stage="IXSCAN"]') !== null`)
		require.Contains(t, tb.text("#plan"), "docs examined: 6")
		tb.shot("query-ixscan")
		// A TTL index: the form sends expireAfterSeconds; the list shows it.
		tb.goTo("#/indexes/people", `document.querySelector('#ix-ttl') !== null`)
		tb.run("create TTL index", chromedp.SendKeys(chromedp.ID("ix-fields"), "seen"), chromedp.SendKeys(chromedp.ID("ix-ttl"), "3600"), submit("create-index"))
		tb.wait("TTL listed", `[...document.querySelectorAll('#indexes tbody tr')].some(r => r.innerText.includes('seen') && r.innerText.includes('TTL 3600 s'))`)
		st, body := s.do("GET", "/api/people/_indexes", "")
		require.Equal(t, http.StatusOK, st)
		require.Contains(t, body, `"expireAfterSeconds":3600`)
		tb.run("drop TTL index", chromedp.Click(chromedp.CSS(`#indexes tr[data-name="seen_1"] button`)))
		tb.wait("TTL dropped", `document.querySelector('#indexes tr[data-name="seen_1"]') === null`)

		// Drop an index (confirmed).
		st, body = s.do("POST", "/api/people/_indexes", `{"fields":["name"],"name":"by_name"}`)
		require.Equal(t, http.StatusCreated, st, body)
		tb.goTo("#/indexes/people", `document.querySelector('#indexes tr[data-name="by_name"]') !== null`)
		tb.run("drop by_name", chromedp.Click(chromedp.CSS(`button[aria-label="Drop index by_name"]`)))
		tb.wait("by_name gone", `document.querySelector('#indexes tr[data-name="by_name"]') === null && document.querySelector('#indexes tr[data-name="born_1"]') !== null`)
		specs, err := s.db.ListIndexes("people")
		require.NoError(t, err)
		require.Len(t, specs, 1)
	})

	t.Run("aggregate", func(t *testing.T) {
		// 11 orders of five customers; an index on status.
		var orders []string
		for i := range 11 {
			status := "A"
			if i%3 == 0 {
				status = "B"
			}
			orders = append(orders, fmt.Sprintf(`{"_id":"o%02d","cust":"c%d","amount":%d,"status":%q}`, i, i%5, 10*(i+1), status))
		}
		st, body := s.do("POST", "/api/orders/_insertMany", "["+strings.Join(orders, ",")+"]")
		require.Equal(t, http.StatusCreated, st, body)
		st, body = s.do("POST", "/api/orders/_indexes", `{"fields":["status"]}`)
		require.Equal(t, http.StatusCreated, st, body)

		tb.goTo("#/query/orders", `document.querySelector('#q-mode-find') !== null && !document.querySelector('#query-form').hidden`)
		hidden := evalT[bool](tb, `document.querySelector('#agg-form').hidden`)
		require.True(t, hidden, "Find is the default mode")
		// The mode switch is radio buttons: the arrow key moves to Aggregate.
		tb.run("switch with the keyboard", chromedp.Focus(chromedp.ID("q-mode-find")), chromedp.KeyEvent(kb.ArrowRight))
		tb.wait("aggregate mode", `!document.querySelector('#agg-form').hidden && document.querySelector('#query-form').hidden && document.querySelector('#q-mode-aggregate').checked`)
		tb.labelled()

		// Bad input is caught before sending, naming the problem.
		tb.run("not JSON", chromedp.SetValue(chromedp.ID("agg-pipeline"), `[{"$group": }]`), submit("agg-form"))
		tb.wait("JSON error", `document.querySelector('#agg-msg.error').textContent.startsWith('The pipeline is not valid JSON') && document.querySelector('#agg-pipeline').getAttribute('aria-invalid') === 'true'`)
		tb.run("not an array", chromedp.SetValue(chromedp.ID("agg-pipeline"), `{"$match": {}}`), submit("agg-form"))
		tb.wait("array error", `document.querySelector('#agg-msg.error').textContent.startsWith('The pipeline must be a JSON array')`)
		tb.run("not a stage", chromedp.SetValue(chromedp.ID("agg-pipeline"), `[{"$match": {}}, 5]`), submit("agg-form"))
		tb.wait("stage error", `document.querySelector('#agg-msg.error').textContent.startsWith('Stage 1 of the pipeline must be an object')`)
		// An unsupported stage: the server's 400, named, as the page's alert.
		tb.run("unsupported stage", chromedp.SetValue(chromedp.ID("agg-pipeline"), `[{"$match": {}}, {"$out": "copy"}]`), submit("agg-form"))
		tb.wait("server error", `/\(400 invalid_pipeline\)$/.test(document.querySelector('#status').textContent) && document.querySelector('#status').getAttribute('role') === 'alert'`)
		require.Contains(t, tb.text("#status"), "stage 1 ($out)")
		require.Contains(t, tb.text("#agg-msg"), "$out")
		aria := evalT[string](tb, `document.querySelector('#agg-pipeline').getAttribute('aria-invalid') || ''`)
		require.Empty(t, aria, "valid JSON is not marked invalid")

		// $group, two groups a page: three pages.
		group := `[{"$group": {"_id": "$cust", "total": {"$sum": "$amount"}, "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]`
		tb.run("run $group", chromedp.SetValue(chromedp.ID("agg-pipeline"), group), chromedp.SetValue(chromedp.ID("agg-limit"), "2"), submit("agg-form"))
		tb.wait("page 1", `document.querySelector('#agg-page') !== null && document.querySelector('#agg-page').textContent === 'Page 1'`)
		require.Regexp(t, `^2 documents in [0-9.]+ ms \(round trip\) · more follow`, tb.text("#timing"))
		// c0: orders 0, 5, 10 (10+60+110); c1: orders 1, 6 (20+70).
		require.Equal(t, `[{"_id":"c0","total":180,"n":3},{"_id":"c1","total":90,"n":2}]`, resultDocs(tb))
		alert := evalT[string](tb, `document.querySelector('#status').className`)
		require.Equal(t, "status", alert, "the error alert is gone after a run that worked")
		tb.shot("query-aggregate")
		tb.run("next page", chromedp.Click(chromedp.ID("agg-next")))
		tb.wait("page 2", `document.querySelector('#agg-page').textContent === 'Page 2'`)
		require.Equal(t, `[{"_id":"c2","total":110,"n":2},{"_id":"c3","total":130,"n":2}]`, resultDocs(tb))
		focused := evalT[string](tb, `document.activeElement.id`)
		require.Equal(t, "agg-next", focused, "the keyboard stays on Next page")
		tb.run("last page", chromedp.Click(chromedp.ID("agg-next")))
		tb.wait("page 3", `document.querySelector('#agg-page').textContent === 'Page 3'`)
		require.Equal(t, `[{"_id":"c4","total":150,"n":2}]`, resultDocs(tb))
		n := evalT[int](tb, `document.querySelectorAll('#agg-next').length`)
		require.Zero(t, n, "no next page after the last")
		require.Regexp(t, `^1 document in [0-9.]+ ms \(round trip\)$`, tb.text("#timing"))

		// Explain: the leading $match walks the status index.
		tb.run("explain", chromedp.SetValue(chromedp.ID("agg-pipeline"), `[{"$match": {"status": "B"}}, {"$group": {"_id": "$cust", "n": {"$sum": 1}}}]`),
			chromedp.Click(chromedp.ID("agg-explain")))
		tb.wait("plan", `document.querySelector('#plan:not([hidden]) [data-stage="IXSCAN"]') !== null && document.querySelector('#plan [data-agg-stage="$group"]') !== null`)
		plan := tb.text("#plan")
		require.Contains(t, plan, "status_1")
		require.Contains(t, plan, "docs examined: 4")
		require.Contains(t, plan, "The scan below performs the first stage of the pipeline")
		stages := evalT[[]string](tb, `[...document.querySelectorAll('#plan [data-agg-stage]')].map(li => li.dataset.aggStage + ':' + li.className)`)
		require.Equal(t, []string{"$match:stage pushed", "$group:stage agg"}, stages)
		tb.shot("query-aggregate-explain")

		// On a phone: no sideways scrolling.
		tb.run("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		overflow := evalT[bool](tb, `document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`)
		require.False(t, overflow, "no sideways scrolling of the page on a phone")
		tb.shot("phone-query-aggregate")
		tb.run("desktop viewport", chromedp.ResetViewport())

		// The mode is kept for the collection; a click goes back to Find.
		tb.goTo("#/query/orders", `document.querySelector('#agg-pipeline') !== null && !document.querySelector('#agg-form').hidden`)
		tb.run("back to Find", chromedp.Click(chromedp.CSS(`label[for="q-mode-find"]`)))
		tb.wait("find mode", `!document.querySelector('#query-form').hidden && document.querySelector('#agg-form').hidden`)
	})

	t.Run("live", func(t *testing.T) {
		if st, _ := s.do("GET", "/api/people/_changes?limit=1", ""); st == http.StatusNotFound {
			t.Skip("this server has no change feed yet (GET /api/{col}/_changes is 404): run again after the feed-api merge")
		}
		tb.goTo("#/live/people", `document.querySelector('#live-state') !== null`)
		tb.wait("live", `document.querySelector('#live-state').textContent === 'live'`)
		st, body := s.do("POST", "/api/people", `{"_id":"grace","name":"Grace Hopper","born":1906}`)
		require.Equal(t, http.StatusCreated, st, body)
		tb.wait("insert seen", `[...document.querySelectorAll('#live-rows tr')].some(r => r.innerText.includes('grace') && r.innerText.includes('insert'))`)
		st, _ = s.do("DELETE", "/api/people/grace", "")
		require.Equal(t, http.StatusOK, st)
		tb.wait("delete seen", `[...document.querySelectorAll('#live-rows tr')].some(r => r.innerText.includes('grace') && r.innerText.includes('delete'))`)
		// Changes made while paused arrive on resuming (Last-Event-ID).
		tb.run("pause", chromedp.Click(chromedp.ID("live-toggle")))
		tb.wait("paused", `document.querySelector('#live-state').textContent === 'paused'`)
		st, body = s.do("POST", "/api/people", `{"_id":"edsger","name":"Edsger Dijkstra","born":1930}`)
		require.Equal(t, http.StatusCreated, st, body)
		tb.run("resume", chromedp.Click(chromedp.ID("live-toggle")))
		tb.wait("missed insert seen", `[...document.querySelectorAll('#live-rows tr')].some(r => r.innerText.includes('edsger') && r.innerText.includes('insert'))`)
		n := evalT[int](tb, `document.querySelectorAll('#live-rows tr').length`)
		require.Equal(t, 3, n, "each change once")
		tb.shot("live")
	})

	t.Run("health", func(t *testing.T) {
		// A Go memory limit within reach of the RSS is drawn as a line.
		prevLimit := debug.SetMemoryLimit(256 << 20)
		defer debug.SetMemoryLimit(prevLimit)
		tb.goTo("#/health", `document.querySelectorAll('svg.chart').length === 5`)
		tb.run("every second", chromedp.SetValue(chromedp.ID("health-interval"), "1"))
		tb.eval(`document.querySelector('#health-interval').dispatchEvent(new Event('change'))`)
		// Some traffic to draw.
		for i := range 20 {
			s.do("GET", fmt.Sprintf("/api/people/p%02d", i%14), "")
		}
		tb.wait("charts drawn", `[...document.querySelectorAll('svg.chart')].every(s => Number(s.dataset.draws) >= 4)`)
		// The console's own polling is traffic: rates and latencies have values.
		tb.wait("values", `/requests\/s: [0-9.]*[1-9][0-9.]*\/s/.test(document.querySelector('#charts').innerText) && /p50: [0-9.]+ ms/.test(document.querySelector('#charts').innerText)`)
		tb.wait("lines", `document.querySelector('svg.chart path.line[data-series="requests/s"]') !== null && document.querySelector('svg.chart path.line[data-series="RSS"]') !== null && document.querySelector('svg.chart path.line[data-series="p99"]') !== null`)
		var label string
		label = evalT[string](tb, `document.querySelector('svg.chart').getAttribute('aria-label')`)
		require.Regexp(t, `^Requests per second: requests/s [0-9.]+/s$`, label)
		tb.wait("GOMEMLIMIT", `document.querySelector('#charts').innerText.includes('GOMEMLIMIT: 256.0 MiB') && document.querySelectorAll('svg.chart line.limit').length > 0`)
		tb.shot("health")
	})

	t.Run("backup", func(t *testing.T) {
		tb.goTo("#/backup", `document.querySelector('#restore-file') !== null`)
		// The dump, read through fetch with the key (the picker of
		// showSaveFilePicker cannot be answered headless: the fallback).
		tb.eval(`window.showSaveFilePicker = undefined`)
		tb.run("download", chromedp.Click(chromedp.ID("dump")))
		tb.wait("downloaded", `document.querySelector('#dump-state').textContent.startsWith('Downloaded')`)
		dump := filepath.Join(t.TempDir(), "dump.ndjson")
		require.NoError(t, os.WriteFile(dump, []byte(`{"collection":"restored","doc":{"_id":"r1","v":1}}`+"\n"+`{"collection":"restored","doc":{"_id":"r2","v":2}}`+"\n"), 0o644))
		tb.run("choose the dump", chromedp.SetUploadFiles(chromedp.ID("restore-file"), []string{dump}), submit("restore-form"))
		tb.wait("restored", `document.querySelector('#restore-state').textContent.startsWith('Restored')`)
		require.Equal(t, float64(2), s.doc("restored", "r2")["v"])
		var max float64
		max = evalT[float64](tb, `document.querySelector('#restore-progress').value`)
		require.Positive(t, max, "the upload's progress was shown")
		tb.shot("backup")
	})

	t.Run("scripts", func(t *testing.T) {
		// The event-stream parser, fed chunks cut anywhere.
		got := evalT[string](tb, `import('./page-live.js').then(m => {
			const out = [];
			const p = new m.SSEParser(e => out.push(e));
			for (const c of ['id: 1\ndata: {"op":', '"insert"}\n', '\n: \n\n', 'id: 2\r\ndata: a\r\nda', 'ta: b\r\n\r\n', 'data: no end']) p.push(c);
			return JSON.stringify(out);
		})`, chromedp.EvalAwaitPromise)
		require.JSONEq(t, `[{"id":"1","event":"message","data":"{\"op\":\"insert\"}"},{"id":"2","event":"message","data":"a\nb"}]`, got)
		// Quantiles from two cumulative histograms: 10 requests, 5 under
		// 1 ms, 4 under 10 ms, 1 slower.
		got = evalT[string](tb, `import('./page-health.js').then(m => {
			const before = [[0.001, 100], [0.01, 100], [Infinity, 100]];
			const now = [[0.001, 105], [0.01, 109], [Infinity, 110]];
			return JSON.stringify([m.quantile(0.5, now, before), m.quantile(0.9, now, before), m.quantile(0.5, before, before)].map(v => v === null ? null : Math.round(v * 1e9) / 1e9));
		})`, chromedp.EvalAwaitPromise)
		require.JSONEq(t, `[0.001, 0.01, null]`, got)
		// Pretty-printing keeps big integers and strings as they are.
		got = evalT[string](tb, `import('./util.js').then(m => m.pretty('{"a":12345678901234567890,"s":"x, {y}: [z]","e":{},"l":[1,[]]}'))`, chromedp.EvalAwaitPromise)
		require.Equal(t, "{\n  \"a\": 12345678901234567890,\n  \"s\": \"x, {y}: [z]\",\n  \"e\": {},\n  \"l\": [\n    1,\n    []\n  ]\n}", got)
	})

	t.Run("phone", func(t *testing.T) {
		tb.run("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		tb.goTo("#/documents/people", `document.querySelector('#docs tbody tr') !== null`)
		var overflow bool
		overflow = evalT[bool](tb, `document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`)
		require.False(t, overflow, "no sideways scrolling of the page on a phone")
		tb.shot("phone-documents")
		tb.run("desktop viewport", chromedp.ResetViewport())
	})

	t.Run("no keys", func(t *testing.T) {
		// A server without keys needs no sign-in.
		open := newServerKeys(t, nil)
		nk := b.tab(t)
		nk.run("open", chromedp.Navigate(open.url+"/console/"), chromedp.WaitVisible(chromedp.ID("nav")))
		nk.wait("collections page", `document.querySelector('#collections') !== null && document.querySelector('#create-collection') !== null`)
		require.Equal(t, "no auth", nk.text("#role"))
		hidden := evalT[bool](nk, `document.querySelector('#login').hidden && document.querySelector('#logout').hidden`)
		require.True(t, hidden)
	})

	t.Run("read-only key", func(t *testing.T) {
		ro := b.tab(t)
		ro.login(s.url, readKey)
		require.Equal(t, "read key", ro.text("#role"))
		var n int
		n = evalT[int](ro, `document.querySelectorAll('#create-collection, button.danger').length`)
		require.Zero(t, n, "no create or drop controls")
		ro.goTo("#/documents/people", `document.querySelector('#docs tbody tr') !== null`)
		n = evalT[int](ro, `document.querySelectorAll('#new-doc').length`)
		require.Zero(t, n)
		ro.run("open ada", chromedp.Click(chromedp.CSS(`#docs tr[data-id="ada"] button`)))
		ro.wait("read-only view", `document.querySelector('#doc-json') !== null && document.querySelector('#doc-json').readOnly`)
		n = evalT[int](ro, `document.querySelectorAll('#doc-save, #doc-delete').length`)
		require.Zero(t, n, "no save or delete")
		ro.goTo("#/indexes/people", `document.querySelector('#indexes tbody tr') !== null`)
		n = evalT[int](ro, `document.querySelectorAll('#create-index, button.danger').length`)
		require.Zero(t, n)
		ro.goTo("#/backup", `document.querySelector('#dump') !== null`)
		n = evalT[int](ro, `document.querySelectorAll('#restore-form').length`)
		require.Zero(t, n, "restore needs an admin key")
		// Trying anyway is refused.
		status := evalT[int](ro, `fetch('/api/people/ada', {method: 'DELETE', headers: {Authorization: 'Bearer ' + sessionStorage.getItem('minidbgo.apiKey')}}).then(r => r.status)`,
			chromedp.EvalAwaitPromise)
		require.Equal(t, http.StatusForbidden, status)
		ro.shot("read-only")
		// Signing out forgets the key.
		var key string
		ro.run("sign out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("key")))
		key = evalT[string](ro, `sessionStorage.getItem('minidbgo.apiKey') || ''`)
		require.Empty(t, key)
	})
}

// TestConsoleBehindProxy: the console behind a reverse proxy that serves
// the server under /db/ (nginx's location /db/ { proxy_pass
// http://server/; }): the redirect, the API calls, the change feed, the
// metrics, the dump and the restore all go through the prefix, and the
// page asks for nothing outside it.
func TestConsoleBehindProxy(t *testing.T) {
	b := newBrowser(t)
	s := newServer(t)
	target, err := url.Parse(s.url)
	require.NoError(t, err)
	rp := http.StripPrefix("/db", httputil.NewSingleHostReverseProxy(target))
	var mu sync.Mutex
	var stray []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/db/") {
			mu.Lock()
			stray = append(stray, r.Method+" "+r.URL.RequestURI())
			mu.Unlock()
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	st, body := s.do("POST", "/api/_collections", `{"name":"seeded"}`)
	require.Equal(t, http.StatusCreated, st, body)

	tb := b.tab(t)
	tb.login(proxy.URL+"/db", adminKey)
	require.Equal(t, "admin key", tb.text("#role"))
	tb.wait("seeded listed", `document.querySelector('#collections tr[data-name="seeded"]') !== null`)
	tb.run("create people", chromedp.SendKeys(chromedp.ID("new-col"), "people"), submit("create-collection"))
	tb.wait("people listed", `document.querySelector('#collections tr[data-name="people"]') !== null`)

	tb.goTo("#/documents/people", `document.querySelector('#new-doc') !== null`)
	tb.run("new document", chromedp.Click(chromedp.ID("new-doc")), chromedp.WaitVisible(chromedp.ID("doc-json")))
	tb.run("insert", chromedp.SetValue(chromedp.ID("doc-json"), `{"_id": "ada", "name": "Ada"}`), chromedp.Click(chromedp.ID("doc-save")))
	tb.wait("saved", `document.querySelector('#doc-msg').textContent.startsWith('Saved')`)
	tb.wait("row", `document.querySelector('#docs tr[data-id="ada"]') !== null`)
	require.Equal(t, "Ada", s.doc("people", "ada")["name"])

	tb.goTo("#/live/people", `document.querySelector('#live-state') !== null`)
	tb.wait("live", `document.querySelector('#live-state').textContent === 'live'`)
	st, body = s.do("POST", "/api/people", `{"_id":"grace","name":"Grace Hopper"}`)
	require.Equal(t, http.StatusCreated, st, body)
	tb.wait("insert seen", `[...document.querySelectorAll('#live-rows tr')].some(r => r.innerText.includes('grace') && r.innerText.includes('insert'))`)

	tb.goTo("#/health", `document.querySelectorAll('svg.chart').length === 5`)
	tb.wait("sampled", `document.querySelector('#health-facts').innerText.includes('Uptime') && [...document.querySelectorAll('svg.chart')].every(s => Number(s.dataset.draws) >= 1)`)

	tb.goTo("#/backup", `document.querySelector('#restore-file') !== null`)
	tb.eval(`window.showSaveFilePicker = undefined`)
	tb.run("download", chromedp.Click(chromedp.ID("dump")))
	tb.wait("downloaded", `document.querySelector('#dump-state').textContent.startsWith('Downloaded')`)
	dump := filepath.Join(t.TempDir(), "dump.ndjson")
	require.NoError(t, os.WriteFile(dump, []byte(`{"collection":"restored","doc":{"_id":"r1","v":1}}`+"\n"), 0o644))
	tb.run("choose the dump", chromedp.SetUploadFiles(chromedp.ID("restore-file"), []string{dump}), submit("restore-form"))
	tb.wait("restored", `document.querySelector('#restore-state').textContent.startsWith('Restored')`)
	require.Equal(t, float64(1), s.doc("restored", "r1")["v"])
	tb.shot("behind-proxy")

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, stray, "requests outside the proxy's prefix /db/")
}

// resultDocs is the result documents shown, as compact JSON.
func resultDocs(tb *tab) string {
	tb.t.Helper()
	return evalT[string](tb, `JSON.stringify(JSON.parse('[' + document.querySelector('#results pre.json').textContent.split('\n}\n{').join('},{') + ']'))`)
}
