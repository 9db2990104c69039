package docstore

import "context"

// CreateCollection makes the collection exist, with no documents (writes
// create collections too; this is for an empty one, as the console's
// "create" asks). It reports whether the collection is new; creating one
// that exists changes nothing.
func (db *DB) CreateCollection(ctx context.Context, col string) (created bool, err error) {
	if err := checkName("collection", col); err != nil {
		return false, err
	}
	if err := ctxErr(ctx, "create collection"); err != nil {
		return false, err
	}
	if c := db.getCollection(col); c != nil && c.persisted.Load() {
		return false, nil
	}
	if err := db.createCollection(col); err != nil {
		return false, err
	}
	return true, nil
}
