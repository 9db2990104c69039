package docstore

import (
	"fmt"

	"github.com/minidbgo/minidbgo/docstore/internal/jsondoc"
)

// storedLimits parse stored documents: they met the configured limits
// when they were written, so only a depth bound guards the parser.
var storedLimits = jsondoc.Limits{MaxDepth: 1 << 10}

// parseStored parses the JSON of the stored document col/id (as
// decodeStored returns it); an error names the document.
func parseStored(col, id string, js []byte) (jsondoc.Value, error) {
	v, err := jsondoc.Parse(js, storedLimits)
	if err != nil {
		return jsondoc.Value{}, fmt.Errorf("docstore: stored document %q/%q: %w", col, id, err)
	}
	return v, nil
}
