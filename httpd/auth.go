package httpd

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Scope is what an API key may do. Each scope includes the ones below it:
// admin > write > read.
type Scope uint8

// The scopes.
const (
	ScopeNone  Scope = iota
	ScopeRead        // reads and queries, metrics, stats, dumps
	ScopeWrite       // plus document, index and collection writes
	ScopeAdmin       // plus compaction, restore, debug and pprof
)

// String returns the scope's name.
func (s Scope) String() string {
	switch s {
	case ScopeRead:
		return "read"
	case ScopeWrite:
		return "write"
	case ScopeAdmin:
		return "admin"
	}
	return "none"
}

// ParseScope parses "read", "write" or "admin".
func ParseScope(s string) (Scope, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "read":
		return ScopeRead, nil
	case "write":
		return ScopeWrite, nil
	case "admin":
		return ScopeAdmin, nil
	}
	return ScopeNone, fmt.Errorf("httpd: unknown scope %q (want read, write or admin)", s)
}

// Keys is a set of API keys with their scopes. Only the SHA-256 of each
// key is kept. A nil *Keys means authentication is off. Safe for
// concurrent use.
type Keys struct {
	keys []apiKey
}

type apiKey struct {
	hash  [sha256.Size]byte
	scope Scope
	id    string // first bytes of the hash, for logs and rate limits
}

// ParseKeys parses "key1:read,key2:write,key3:admin" (the form of
// MINIDBGO_API_KEYS). Keys must be at least 16 bytes long; a key without
// a scope is read-only.
func ParseKeys(spec string) (*Keys, error) {
	k := &Keys{}
	for _, item := range strings.Split(spec, ",") {
		if err := k.add(item); err != nil {
			return nil, err
		}
	}
	if len(k.keys) == 0 {
		return nil, fmt.Errorf("httpd: no API keys in the specification")
	}
	return k, nil
}

// LoadKeyFile reads keys from a file, one "key:scope" per line; blank
// lines and lines starting with # are skipped.
func LoadKeyFile(path string) (*Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("httpd: key file: %w", err)
	}
	defer f.Close()
	k := &Keys{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		if err := k.add(sc.Text()); err != nil {
			return nil, fmt.Errorf("httpd: key file %s line %d: %w", path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("httpd: key file %s: %w", path, err)
	}
	if len(k.keys) == 0 {
		return nil, fmt.Errorf("httpd: key file %s holds no keys", path)
	}
	return k, nil
}

// Merge returns the union of two key sets (either may be nil).
func (k *Keys) Merge(o *Keys) *Keys {
	if k == nil {
		return o
	}
	if o == nil {
		return k
	}
	return &Keys{keys: append(append([]apiKey(nil), k.keys...), o.keys...)}
}

// Len returns the number of keys.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

func (k *Keys) add(item string) error {
	item = strings.TrimSpace(item)
	if item == "" || strings.HasPrefix(item, "#") {
		return nil
	}
	key, scopeName, hasScope := strings.Cut(item, ":")
	// A key may itself contain ':'; the scope is after the last one.
	if i := strings.LastIndexByte(item, ':'); i >= 0 {
		key, scopeName = item[:i], item[i+1:]
	}
	scope := ScopeRead
	if hasScope {
		var err error
		if scope, err = ParseScope(scopeName); err != nil {
			return err
		}
	}
	if len(key) < 16 {
		return fmt.Errorf("httpd: API keys must be at least 16 characters (got %d)", len(key))
	}
	h := sha256.Sum256([]byte(key))
	k.keys = append(k.keys, apiKey{hash: h, scope: scope, id: hex.EncodeToString(h[:4])})
	return nil
}

// lookup returns the key matching the presented secret. Every stored hash
// is compared in constant time, whatever matches.
func (k *Keys) lookup(secret string) (apiKey, bool) {
	h := sha256.Sum256([]byte(secret))
	var found apiKey
	ok := 0
	for _, c := range k.keys {
		if subtle.ConstantTimeCompare(h[:], c.hash[:]) == 1 {
			found = c
			ok = 1
		}
	}
	return found, ok == 1
}

// principal is who made a request: the key's id and scope, or, with
// authentication off, anyone with every scope.
type principal struct {
	id    string
	scope Scope
}

func principalOf(ctx context.Context) principal {
	if st := stateOf(ctx); st != nil && st.hasPrincipal {
		return st.principal
	}
	p, _ := ctx.Value(ctxPrincipal).(principal)
	return p
}

// withPrincipal gives the request its caller: in its state (reqState)
// when it has one, else in a context value.
func withPrincipal(r *http.Request, p principal) *http.Request {
	if st := stateOf(r.Context()); st != nil {
		st.principal, st.hasPrincipal = p, true
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), ctxPrincipal, p))
}

// errUnauthorized is the single answer to a missing, malformed or wrong
// key, so that the responses cannot be told apart.
var errUnauthorized = reqErr(codeUnauthorized, "a valid API key is required: send Authorization: Bearer <key>")

// authenticate identifies the caller by its Authorization: Bearer key.
// Keys in the URL (?api_key=) are never accepted: such a request is
// refused like one without a key. With no keys configured, every caller
// has every scope.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Keys == nil {
			p := principal{scope: ScopeAdmin}
			if s.limiter != nil { // the id only keys the rate limit
				p.id = "ip:" + clientIP(r)
			}
			next.ServeHTTP(w, withPrincipal(r, p))
			return
		}
		key, ok := bearer(r)
		var k apiKey
		if ok && !r.URL.Query().Has("api_key") {
			k, ok = s.cfg.Keys.lookup(key)
		} else {
			ok = false
		}
		if !ok {
			// Failed attempts are rate limited per client address
			// (Config.AuthFailRate), whatever Config.RateLimit says.
			if ok, wait := s.failLimiter.reserve(clientIP(r), 1); !ok {
				s.metrics.rejectedRate.Add(1)
				secs := max(1, int(math.Ceil(wait.Seconds())))
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				s.writeError(w, r, reqErr(codeRateLimited, fmt.Sprintf("too many failed authentication attempts from this address; retry in %d s", secs)))
				return
			}
			s.writeError(w, r, errUnauthorized)
			return
		}
		next.ServeHTTP(w, withPrincipal(r, principal{id: "key:" + k.id, scope: k.scope}))
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	k := strings.TrimSpace(h[len(prefix):])
	return k, k != ""
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// need requires the caller's scope to include scope (403 otherwise).
func (s *Server) need(scope Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := principalOf(r.Context()); p.scope < scope {
				s.writeError(w, r, reqErr(codeForbidden,
					fmt.Sprintf("this API key has scope %q; the request needs %q", p.scope, scope)))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// debugGate admits debug endpoints (debug/gc, pprof, expvar) for admin
// keys, or, with authentication off, only when Config.DebugOpen is set
// (the server listens on loopback only).
func (s *Server) debugGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Keys == nil && !s.cfg.DebugOpen {
			s.writeError(w, r, reqErr(codeForbidden,
				"debug endpoints need an admin API key, or authentication off and the server listening on loopback only"))
			return
		}
		if principalOf(r.Context()).scope < ScopeAdmin {
			s.writeError(w, r, reqErr(codeForbidden, "debug endpoints need an admin API key"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// rateLimit applies Config.RateLimit (requests per second, with
// Config.RateBurst) per API key, or per client IP when authentication is
// off; the excess is answered 429 with Retry-After.
func (s *Server) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.limiter != nil && !s.limiter.allow(principalOf(r.Context()).id, 1) {
			s.metrics.rejectedRate.Add(1)
			s.writeError(w, r, reqErr(codeRateLimited, "rate limit exceeded; retry later"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limiter is a set of token buckets, one per caller, refilled at rate per
// second up to burst. Idle buckets are dropped when the set grows.
type limiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex // protects buckets
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 10000

func newLimiter(rate float64, burst int) *limiter {
	if rate <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(max(1, rate))
	}
	return &limiter{rate: rate, burst: float64(burst), buckets: make(map[string]*bucket)}
}

// reserve takes cost tokens from id's bucket; when there are not enough,
// it takes none and reports how long until there will be.
func (l *limiter) reserve(id string, cost float64) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[id]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[id] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < cost {
		return false, time.Duration((cost - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens -= cost
	return true, 0
}

// prune makes room in a full set of buckets: it drops the full ones
// (forgetting them changes nothing) and, if that is not enough (many
// callers at once), an eighth of the others, so that memory stays bounded
// by maxBuckets and the scan is paid once per maxBuckets/8 new callers.
func (l *limiter) prune(now time.Time) {
	for k, v := range l.buckets {
		if now.Sub(v.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < maxBuckets {
		return
	}
	drop := len(l.buckets) / 8
	for k := range l.buckets { // in Go's random map order
		if drop == 0 {
			break
		}
		delete(l.buckets, k)
		drop--
	}
}

func (l *limiter) allow(id string, cost float64) bool {
	ok, _ := l.reserve(id, cost)
	return ok
}
