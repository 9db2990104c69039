package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Request is one HTTP request of a workload. Path is relative to the
// target's base URL and may carry a query string.
type Request struct {
	Method string
	Path   string
	Body   []byte // nil: no body
}

// ErrRemoteTarget is returned for a target that is not on this machine
// when the caller did not allow one explicitly.
var ErrRemoteTarget = errors.New("runner: refusing a target that is not 127.0.0.1, ::1 or localhost (pass it explicitly with --url)")

// CheckTarget returns ErrRemoteTarget unless base names a loopback host:
// 127.0.0.0/8, ::1 or localhost. Callers skip it when the user named the
// target explicitly.
func CheckTarget(base *url.URL) error {
	host := base.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrRemoteTarget, base.Host)
}

// HTTPConfig configures an HTTP client.
type HTTPConfig struct {
	// Concurrency sizes the keep-alive pool: one idle connection per worker.
	Concurrency int
	// Timeout bounds each request, body included. Default 30s.
	Timeout time.Duration
	// AllowRemote permits targets beyond loopback (an explicit --url).
	AllowRemote bool
}

// Client sends workload requests to one base URL over keep-alive
// connections. It is safe for concurrent use.
type Client struct {
	base  string
	http  *http.Client
	trans *http.Transport
}

// NewClient returns a Client for base. It refuses a non-loopback base
// unless cfg.AllowRemote is set.
func NewClient(base string, cfg HTTPConfig) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("runner: target %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("runner: target %q: want an http:// or https:// URL", base)
	}
	if !cfg.AllowRemote {
		if err := CheckTarget(u); err != nil {
			return nil, err
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	c := max(cfg.Concurrency, 1)
	tr := &http.Transport{
		Proxy:               nil, // never through a proxy: the target is the target
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        c + 8,
		MaxIdleConnsPerHost: c + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &Client{
		base:  strings.TrimSuffix(u.String(), "/"),
		http:  &http.Client{Transport: tr, Timeout: cfg.Timeout},
		trans: tr,
	}, nil
}

// Base returns the base URL, without a trailing slash.
func (c *Client) Base() string { return c.base }

// Close releases idle connections.
func (c *Client) Close() { c.trans.CloseIdleConnections() }

func (c *Client) newRequest(ctx context.Context, r Request) (*http.Request, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, c.base+r.Path, body)
	if err != nil {
		return nil, err
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// Do sends r and returns the status code and the whole response body. For
// setup and probes; load goes through Op.
func (c *Client) Do(ctx context.Context, r Request) (int, []byte, error) {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Op returns an Op that sends request gen(i) and drains the response. The
// outcome's Status is the status code; Items is items(i) when items is
// not nil.
func (c *Client) Op(gen func(i uint64) Request, items func(i uint64) int64) Op {
	return func(ctx context.Context, _ int, i uint64) Outcome {
		r := gen(i)
		o := Outcome{BytesOut: int64(len(r.Body))}
		if items != nil {
			o.Items = items(i)
		}
		req, err := c.newRequest(ctx, r)
		if err != nil {
			o.Err = err
			return o
		}
		resp, err := c.http.Do(req)
		if err != nil {
			o.Err = trimURL(err)
			return o
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		o.BytesIn = n
		if err != nil {
			o.Err = trimURL(err)
			return o
		}
		o.Status = strconv.Itoa(resp.StatusCode)
		return o
	}
}

// trimURL drops the URL from a *url.Error so that error samples group by
// cause rather than by document id.
func trimURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
