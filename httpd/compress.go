package httpd

import (
	"mime"
	"net/http"

	"github.com/klauspost/compress/gzhttp"
)

// defaultCompressMinBytes is Config.CompressMinBytes's default: below
// about a kilobyte the framing and CPU cost more than the bytes saved
// (a single small document is sent as it is).
const defaultCompressMinBytes = 1024

// compressedTypes are the media types compress encodes: the API's JSON,
// the NDJSON of dumpDB and _export, and the Prometheus text formats.
// Profiles from /debug/pprof are already gzip-compressed and pass as
// they are.
var compressedTypes = map[string]bool{
	"application/json":             true,
	"application/x-ndjson":         true,
	"text/plain":                   true,
	"application/openmetrics-text": true,
}

// compressor returns the middleware that sends responses of at least
// minBytes compressed with zstd or gzip, whichever the client's
// Accept-Encoding prefers (zstd when both are equal), and adds
// "Vary: Accept-Encoding". It uses klauspost/compress's gzhttp, which
// negotiates the encoding by the RFC 9110 rules, buffers only the first
// minBytes to decide, streams the rest (dumpDB and _export stay
// streams: Flush reaches the client), and passes Unwrap through, so
// http.ResponseController deadlines still reach the connection.
//
// A document's ETag is left as it is: it names the document's revision,
// which If-Match compares, not the bytes of one encoding.
func compressor(minBytes int) (func(http.Handler) http.Handler, error) {
	wrap, err := gzhttp.NewWrapper(
		gzhttp.MinSize(minBytes),
		gzhttp.CompressionLevel(1), // fastest gzip: the server's CPU is the scarcer resource
		gzhttp.ContentTypeFilter(func(ct string) bool {
			mt, _, err := mime.ParseMediaType(ct)
			return err == nil && compressedTypes[mt]
		}),
	)
	if err != nil {
		return nil, err
	}
	return func(h http.Handler) http.Handler { return wrap(h) }, nil
}
