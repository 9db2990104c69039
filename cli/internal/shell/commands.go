package shell

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/minidbgo/minidbgo/docstore"
)

// paramKind says what a command's parameter accepts.
type paramKind int

const (
	// pCollection is a collection name that `use` may supply; it is
	// always a command's first parameter.
	pCollection paramKind = iota
	// pJSON is a JSON object or array.
	pJSON
	// pWord is a bare word (an index name, a file).
	pWord
	// pAny is a word or JSON (an index spec).
	pAny
)

type param struct {
	name     string
	kind     paramKind
	optional bool
}

func (p param) placeholder() string {
	return "<" + p.name + ">"
}

func required(ps []param) int {
	n := 0
	for _, p := range ps {
		if !p.optional {
			n++
		}
	}
	return n
}

// command is one shell command.
type command struct {
	name    string
	params  []param
	summary string
	// help is the text of `help <command>` after the synopsis: details
	// and examples.
	help string
	// syntax, when set, is the synopsis (for parameters that go in
	// pairs, as changes' since N).
	syntax string
	run    func(s *Shell, ctx context.Context, col string, args []arg) error
}

// synopsis is the command's usage line: findOne [collection] [filter].
func (c *command) synopsis() string {
	if c.syntax != "" {
		return c.syntax
	}
	var b strings.Builder
	b.WriteString(c.name)
	for _, p := range c.params {
		b.WriteByte(' ')
		if p.kind == pCollection || p.optional {
			b.WriteString("[" + p.name + "]")
		} else {
			b.WriteString(p.placeholder())
		}
	}
	return b.String()
}

var (
	colParam = param{name: "collection", kind: pCollection}
	commands []*command
	aliases  = map[string]string{"find": "findMany", "quit": "exit", "insert": "insertOne", "ls": "show collections"}
)

func init() {
	commands = []*command{
		{name: "insertOne", params: []param{colParam, {name: "document", kind: pJSON}},
			summary: "store a new document",
			help: `Stores the document. Without an _id, one is generated. As in MongoDB, a
document with the same _id is an error (duplicate_key): replace it with
replaceOne. Prints the _id and whether the document was created. With -c,
a JSON argument typed as - is read from standard input.

  insertOne products {"_id":"p1","name":"Laptop","price":1200}
  minidbgo -c 'insertOne products -' < doc.json`,
			run: cmdInsertOne},
		{name: "insertMany", params: []param{colParam, {name: "documents", kind: pJSON}},
			summary: "store up to 1,000 new documents atomically",
			help: `Stores a JSON array of documents in one atomic batch: all or none. As in
MongoDB, an _id that exists already fails the batch (duplicate_key, naming
it) and nothing is written.

  insertMany products [{"_id":"p2","name":"Mouse","price":25},{"_id":"p3","name":"Desk","price":300}]`,
			run: cmdInsertMany},
		{name: "findOne", params: []param{colParam, {name: "filter", kind: pJSON, optional: true}, {name: "projection", kind: pJSON, optional: true}},
			summary: "print the first document matching a filter (null if none)",
			help: `Filters use MongoDB's query language ($eq $ne $gt $gte $lt $lte $in $nin
$exists $type $regex $and $or $nor $not $elemMatch $all $size $mod, dot
paths). Projections include ({"name":1}), exclude ({"secret":0}) and slice
arrays ({"tags":{"$slice":3}}, -3 or [skip,limit]); see docs/query.md.

  findOne products {"_id":"p1"}
  findOne products {"price":{"$gt":1000}} {"name":1}`,
			run: cmdFindOne},
		{name: "findMany", params: []param{colParam, {name: "filter", kind: pJSON, optional: true}, {name: "options", kind: pJSON, optional: true}},
			summary: "print the documents matching a filter, a page at a time",
			help: `Options: {"sort": {"price": -1} or "-price,_id", "limit": n, "skip": n,
"projection": {"name": 1} or "name,price"}. In an interactive shell results
come 20 at a time: type it for more. Scripts get every result (or pages of
--batch-size). Alias: find.

  findMany products {"price":{"$gt":1000}}
  findMany products {} {"sort":{"price":-1},"limit":10,"projection":{"name":1,"price":1}}`,
			run: cmdFindMany},
		{name: "it", summary: "show the next page of the last findMany",
			help: `Continues the last findMany where its page ended.`,
			run:  cmdIt},
		{name: "updateOne", params: []param{colParam, {name: "filter", kind: pJSON}, {name: "update", kind: pJSON}, {name: "options", kind: pJSON, optional: true}},
			summary: "update the first document matching a filter",
			help: `The update holds operators ($set $setOnInsert $unset $inc $push $pull
$addToSet $currentDate ...; "a.$" is the element the filter matched,
"a.$[]" every element); to replace a whole document use replaceOne.
Prints how many documents matched and changed. With {"upsert": true} and
no match, a document is created from the filter's equality fields with
the update applied, $setOnInsert included, and its _id is printed as
upsertedId.

  updateOne products {"_id":"p1"} {"$set":{"name":"Laptop Pro"}}
  updateOne products {"sku":"x1"} {"$inc":{"n":1},"$setOnInsert":{"added":"today"}} {"upsert":true}`,
			run: cmdUpdateOne},
		{name: "replaceOne", params: []param{colParam, {name: "filter", kind: pJSON}, {name: "document", kind: pJSON}, {name: "options", kind: pJSON, optional: true}},
			summary: "replace the first document matching a filter",
			help: `Replaces the whole document (its _id, if given, must be the match's).
With {"upsert": true} and no match, the document is inserted, with the
filter's _id when it has none.

  replaceOne products {"_id":"p4"} {"name":"Armchair","price":180}
  replaceOne products {"_id":"p9"} {"name":"Lamp"} {"upsert":true}`,
			run: cmdReplaceOne},
		{name: "updateMany", params: []param{colParam, {name: "filter", kind: pJSON}, {name: "update", kind: pJSON}, {name: "options", kind: pJSON, optional: true}},
			summary: "update every document matching a filter",
			help: `Each document is updated atomically; the set is not one transaction.
{} matches every document. With {"upsert": true} and no match, one
document is created as updateOne does.

  updateMany products {"price":{"$lt":100}} {"$inc":{"price":5}}`,
			run: cmdUpdateMany},
		{name: "deleteOne", params: []param{colParam, {name: "filter", kind: pJSON}},
			summary: "delete the first document matching a filter",
			help:    `  deleteOne products {"_id":"p3"}`,
			run:     cmdDeleteOne},
		{name: "deleteMany", params: []param{colParam, {name: "filter", kind: pJSON}},
			summary: "delete every document matching a filter ({} deletes all)",
			help:    `  deleteMany products {"price":{"$lt":10}}`,
			run:     cmdDeleteMany},
		{name: "count", params: []param{colParam, {name: "filter", kind: pJSON, optional: true}},
			summary: "count the documents matching a filter",
			help: `Without a filter, the collection's maintained count (no scan).

  count products
  count products {"price":{"$gt":1000}}`,
			run: cmdCount},
		{name: "distinct", params: []param{colParam, {name: "field", kind: pWord}, {name: "filter", kind: pJSON, optional: true}},
			summary: "list the distinct values of a field, sorted",
			help: `Prints the distinct values a dot path takes in the documents matching the
filter, as MongoDB's distinct: arrays give their elements (one level),
missing fields nothing, and values are sorted as a sort orders them. An
index on the field serves it without a filter. At most 16 MiB of values:
past that, distinct_too_large (narrow the filter).

  distinct products category
  distinct products tags {"price":{"$lt":100}}`,
			run: cmdDistinct},
		{name: "dumpAll", params: []param{{name: "collection", kind: pWord, optional: true}},
			summary: "print every document of every collection (or of one)",
			help:    `Prints one line per document, "collection document", streaming.`,
			run:     cmdDumpAll},
		{name: "dumpDB", params: []param{{name: "file", kind: pWord, optional: true}},
			summary: "back up the database as NDJSON to a file (or to stdout)",
			help: `Streams every collection's indexes and documents, from one consistent
snapshot, as NDJSON: to the file (written whole, then renamed into place)
or, without one, to standard output. restoreDB reads it back. On a
terminal, a progress line shows the bytes and documents written.

  dumpDB backup.ndjson
  minidbgo -c dumpDB > backup.ndjson`,
			run: cmdDumpDB},
		{name: "restoreDB", params: []param{{name: "file", kind: pWord}},
			summary: "restore a dumpDB file (documents are upserted)",
			help: `Reads what dumpDB wrote, or a curl backup of /api/dumpDB (docs/operations.md,
Backup and restore), and stores it: indexes are created and documents
upserted, in batches. A bad line stops the restore, naming the line; the
lines before it are stored.

  restoreDB backup.ndjson`,
			run: cmdRestoreDB},
		{name: "changes", params: []param{{name: "collection", kind: pWord}, {name: "since", kind: pWord, optional: true}, {name: "N", kind: pWord, optional: true},
			{name: "limit", kind: pWord, optional: true}, {name: "M", kind: pWord, optional: true}},
			syntax:  "changes <collection> [since N] [limit M]",
			summary: "print a page of a collection's change feed",
			help: `Prints the committed writes to the collection after sequence number N
(default 0: from the oldest retained), in commit order, at most M of them
(default and at most the page size, 1,000): each with its seq, _id, op
(insert, replace, update, delete, expire, drop) and rev. last_seq is the
N of the next page. A since older than the retained feed is history_lost
(see docs/changes.md). The collection is always named, never taken from
use.

  changes products
  changes products since 42 limit 10`,
			run: cmdChanges},
		{name: "watch", params: []param{colParam, {name: "filter", kind: pJSON, optional: true}},
			summary: "print a collection's changes as they come, until Ctrl-C",
			help: `Follows the collection's change feed from now: prints each committed
write, one line each, as it is committed. With a filter, only the changes
whose document, as it is now, matches it (deletes are not shown then).
Ctrl-C ends the watch, not the shell.

  watch products
  watch orders {"status":"open"}`,
			run: cmdWatch},
		{name: "compact", summary: "compact the whole database now",
			help: `Runs a full compaction and returns when it is done (on a server, it polls
until the server's compaction finishes).`,
			run: cmdCompact},
		{name: "show collections", summary: "list the collections",
			help: `One name per line. stats <collection> gives its counts.`,
			run:  cmdShowCollections},
		{name: "use", params: []param{{name: "collection", kind: pWord}},
			summary: "choose a collection that later commands may omit",
			help: `After use products, "findMany {"price":{"$gt":1000}}" reads products. The
collection need not exist yet: the first insert creates it.

  use products`,
			run: cmdUse},
		{name: "createIndex", params: []param{colParam, {name: "keys", kind: pAny}, {name: "options", kind: pJSON, optional: true}},
			summary: "create a secondary index (and fill it)",
			help: `Keys are {"field": 1 or -1, ...}, or a list like price,-name. Options:
{"unique": true, "name": "...", "expireAfterSeconds": N}. A full spec
{"name","fields"|"keys","unique","expireAfterSeconds"} is accepted too. The
name defaults to field_1_other_-1.

expireAfterSeconds (one field only, N >= 0) makes a TTL index: a document
expires N seconds after the date in that field (an RFC 3339 string or epoch
milliseconds); a document's own "_expiresAt" date works without an index.
Expired documents disappear from reads at once and are deleted every
TTL_INTERVAL.

  createIndex products {"price":1}
  createIndex users email {"unique":true}
  createIndex sessions {"lastSeen":1} {"expireAfterSeconds":3600}`,
			run: cmdCreateIndex},
		{name: "listIndexes", params: []param{colParam},
			summary: "list a collection's indexes",
			help:    `  listIndexes products`,
			run:     cmdListIndexes},
		{name: "dropIndex", params: []param{colParam, {name: "name", kind: pWord}},
			summary: "remove an index",
			help:    `  dropIndex products price_1`,
			run:     cmdDropIndex},
		{name: "dropCollection", params: []param{{name: "collection", kind: pWord}},
			summary: "delete a collection with its documents and indexes",
			help:    `The collection is always named, never taken from use.`,
			run:     cmdDropCollection},
		{name: "aggregate", params: []param{colParam, {name: "pipeline", kind: pJSON}, {name: "options", kind: pJSON, optional: true}},
			summary: "run an aggregation pipeline and print its results",
			help: `MongoDB's aggregation pipeline: a JSON array of stages. Stages: $match
$project $addFields $set $unset $sort $skip $limit $count $unwind $group
$sortByCount $replaceRoot $replaceWith $lookup $facet. $group accumulators:
$sum $avg $min $max $first $last $push $addToSet $count. Expressions: "$a.b",
$$ROOT, $literal, $add $subtract $multiply $divide $mod, $eq $ne $gt $gte
$lt $lte $cmp, $and $or $not, $cond, $ifNull, $concat, $toLower, $toUpper,
$size, $year $month $dayOfMonth (RFC 3339 strings or epoch milliseconds).
Prints every result, fetching page after page. Options: {"explain": true}
prints the plan instead (the leading $match uses indexes as find does).
See docs/aggregation.md.

  aggregate orders [{"$match":{"status":"A"}},{"$group":{"_id":"$cust","total":{"$sum":"$amount"}}},{"$sort":{"total":-1}}]
  aggregate products [{"$sortByCount":"$category"}]
  aggregate products [{"$match":{"price":{"$gt":10}}}] {"explain":true}`,
			run: cmdAggregate},
		{name: "explain", params: []param{colParam, {name: "filter", kind: pJSON, optional: true}, {name: "options", kind: pJSON, optional: true}},
			summary: "show a query's plan and what its first page cost",
			help: `Takes findMany's filter and options.

  explain products {"price":{"$gt":1000}}`,
			run: cmdExplain},
		{name: "stats", params: []param{{name: "collection", kind: pWord, optional: true}},
			summary: "process stats (/api/stats), or a collection's counts",
			help: `Without a collection: CPU, memory and GC figures of the process holding
the database. With one: its document count and bytes.`,
			run: cmdStats},
		{name: "metrics", summary: "engine and server counters (/api/metrics)",
			help: `The puts, gets, deletes, flushes and compacts counters, then every other
engine counter, the LSM levels, and the HTTP server's counters (see
docs/operations.md, Monitoring).`,
			run: cmdMetrics},
		{name: "cluster status", summary: "the cluster's nodes, leader and indexes (/api/_cluster)",
			help: `With --url on a cluster node: its role, the leader, the Raft term and
indexes and the members. {"mode":"single"} on a single node.`,
			run: cmdClusterStatus},
		{name: "cluster join", params: []param{{name: "id", kind: pWord}, {name: "raft_addr", kind: pWord}, {name: "url", kind: pWord}},
			summary: "add a node to the cluster (admin)",
			help: `Adds the node as a voter (through the leader) and records its URL. Nodes
started with JOIN join by themselves.

  cluster join n4 10.0.0.4:7000 http://10.0.0.4:6866`,
			run: cmdClusterJoin},
		{name: "cluster remove", params: []param{{name: "id", kind: pWord}},
			summary: "remove a node from the cluster (admin)",
			help: `Removes the node for good (through the leader).

  cluster remove n3`,
			run: cmdClusterRemove},
		{name: "cluster transfer-leadership", params: []param{{name: "id", kind: pWord, optional: true}},
			summary: "hand the leadership to another node (admin)",
			help: `To the node named, or to the most up-to-date follower; before restarting
the leader.

  cluster transfer-leadership n2`,
			run: cmdClusterTransfer},
		{name: "format", params: []param{{name: "format", kind: pWord, optional: true}},
			summary: "show or set the output format: table, json or pretty",
			help: `pretty is indented JSON (coloured on a terminal; short arrays of
scalars on one line), the default on a terminal; json is compact JSON, one
value per line, the default in scripts; table shows documents as a table,
a page at a time (fields as columns, values cut to 32 characters), other
results that are objects a field a line, and the rest as compact JSON.
--format sets it at start-up.

  format table
  format`,
			run: cmdFormat},
		{name: "help", params: []param{{name: "command", kind: pWord, optional: true}},
			summary: "list the commands, or explain one",
			help:    `  help findMany`,
			run:     cmdHelp},
		{name: "exit", summary: "leave the shell (also quit, or Ctrl-D)",
			help: `Closes the database cleanly (flushing it) and exits.`,
			run:  func(*Shell, context.Context, string, []arg) error { return errExit }},
	}
}

// lookup finds a command by name or alias, ignoring case.
func lookup(name string) *command {
	if a, ok := aliases[strings.ToLower(name)]; ok {
		name = a
	}
	for _, c := range commands {
		if strings.EqualFold(c.name, name) {
			return c
		}
	}
	return nil
}

// commandNames returns every command name (for completion), sorted.
func commandNames() []string {
	var out []string
	for _, c := range commands {
		out = append(out, c.name)
	}
	for a := range aliases {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// suggest returns the command closest to a mistyped name, or "".
func suggest(name string) string {
	best, bestD := "", 3
	if len(name) < 3 {
		return ""
	}
	for _, c := range commandNames() {
		if d := editDistance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func cmdHelp(s *Shell, _ context.Context, _ string, args []arg) error {
	if len(args) == 1 {
		if args[0].text == "db" {
			s.out.line("%s", dbHelp)
			return nil
		}
		c := lookup(args[0].text)
		if c == nil && strings.EqualFold(args[0].text, "show") {
			c = lookup("show collections")
		}
		if c == nil {
			return usagef("no command %q; type help for the list", args[0].text)
		}
		s.out.line("%s\n  %s\n\n%s", c.synopsis(), c.summary, c.help)
		return nil
	}
	s.out.line("Commands ([collection] may be omitted after use <collection>):")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.synopsis()))
	}
	for _, c := range commands {
		s.out.line("  %-*s  %s", width, c.synopsis(), c.summary)
	}
	s.out.line("\nhelp <command> explains one; help db, mongosh's db.<collection>.find(...) form.\nJSON may be relaxed as in mongosh ({price: {$gt: 10}}, 'single quotes',\ntrailing commas) and may span lines while brackets are open.")
	return nil
}

func cmdUse(s *Shell, _ context.Context, _ string, args []arg) error {
	col := args[0].text
	if err := validName(col); err != nil {
		return err
	}
	s.current = col
	s.cursor = nil
	s.out.line("switched to collection %s", col)
	return nil
}

func validName(col string) error {
	if !docstore.ValidName(col) {
		return &cmdError{code: "invalid_name", msg: fmt.Sprintf("invalid collection name %q: must match ^[A-Za-z0-9_-]{1,64}$", col)}
	}
	return nil
}

func cmdFormat(s *Shell, _ context.Context, _ string, args []arg) error {
	if len(args) == 0 {
		s.out.line("%s", s.out.getFormat())
		return nil
	}
	f, err := parseFormat(args[0].text)
	if err != nil {
		return &usageError{msg: err.Error(), usage: "format [table|json|pretty]"}
	}
	s.out.setFormat(f)
	return nil
}
