package query

import "github.com/minidbgo/minidbgo/docstore/internal/jsondoc"

// ApplyInsert is Apply for a document that an upsert is creating: the
// $setOnInsert fields are set like $set, and every other operator applies
// as in Apply. (Apply leaves $setOnInsert out: it changes nothing in a
// document that already exists.)
func (u *Update) ApplyInsert(doc jsondoc.Value) (jsondoc.Value, error) {
	ins := &Update{ops: make([]*updateOp, len(u.ops))}
	for i, op := range u.ops {
		ins.ops[i] = op
		if op.op == "$setOnInsert" {
			set := *op
			set.op = "$set"
			ins.ops[i] = &set
		}
	}
	return ins.Apply(doc)
}
