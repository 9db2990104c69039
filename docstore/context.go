package docstore

import (
	"context"
	"errors"
	"fmt"
)

// checkEvery is how many keys a scan reads between looks at its context,
// and checkBytes how many bytes of documents (a few large documents take
// as long to match as many small ones).
const (
	checkEvery = 256
	checkBytes = 1 << 20
)

// ctxErr returns nil while ctx is live, else its error wrapped with what
// stopped.
func ctxErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("docstore: %s stopped: %w", what, err)
	}
	return nil
}

// isCtxErr reports whether err comes from a context that ended.
func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
