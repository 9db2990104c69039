package docstore

import "context"

// explainKey is the context key of WithExplain's Explanation.
type explainKey struct{}

// WithExplain returns a context under which Count, Distinct, UpdateMany
// and DeleteMany record into e the plan they chose and what it cost (the
// figures Explain reports for a find: keys and documents examined,
// documents matched), so that a caller can report a slow call without
// running it again. e is written by the call and must not be read until
// it returns. (A find's cursor reports its own, in Cursor.Explain.)
func WithExplain(ctx context.Context, e *Explanation) context.Context {
	return context.WithValue(ctx, explainKey{}, e)
}

// explainFor starts the record of a call under ctx that runs p: the
// caller's Explanation (WithExplain) or a scratch one, set to p's plan.
func explainFor(ctx context.Context, p *plan) *Explanation {
	e, _ := ctx.Value(explainKey{}).(*Explanation)
	if e == nil {
		e = new(Explanation)
	}
	*e = p.explain()
	return e
}
