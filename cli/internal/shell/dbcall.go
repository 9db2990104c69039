package shell

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// mongosh's form of the commands, db.<collection>.<method>(<arguments>),
// runs the shell command of the same meaning:
//
//	db.products.find({price: {$gt: 10}}).sort({price: -1}).limit(5)
//	  = findMany products {"price":{"$gt":10}} {"sort":{"price":-1},"limit":5}
//
// Arguments are relaxed JSON values, quoted strings or numbers, separated
// by commas. dbMethods lists the methods; find takes the cursor methods
// in findChain.

// dbMethods maps a collection method to the shell command it runs.
var dbMethods = map[string]string{
	"find":                   "findMany",
	"findOne":                "findOne",
	"insertOne":              "insertOne",
	"insertMany":             "insertMany",
	"updateOne":              "updateOne",
	"updateMany":             "updateMany",
	"replaceOne":             "replaceOne",
	"deleteOne":              "deleteOne",
	"deleteMany":             "deleteMany",
	"countDocuments":         "count",
	"count":                  "count",
	"estimatedDocumentCount": "count",
	"distinct":               "distinct",
	"createIndex":            "createIndex",
	"getIndexes":             "listIndexes",
	"dropIndex":              "dropIndex",
	"drop":                   "dropCollection",
	"stats":                  "stats",
}

// findChain lists the methods that may follow find(...).
const findChain = "sort, limit, skip, projection, count, explain, pretty, toArray"

// dbHelp is the help text of the db form.
const dbHelp = `mongosh's db.<collection>.<method>(...) form runs the same commands:
  db.products.find({price: {$gt: 10}}, {name: 1}).sort({price: -1}).skip(5).limit(10)
  db.products.findOne({_id: 'p1'})        db.products.countDocuments({})
  db.products.insertOne({...})            db.products.insertMany([...])
  db.products.updateOne(filter, update, {upsert: true})   (also updateMany, replaceOne)
  db.products.deleteOne(filter)           db.products.deleteMany(filter)
  db.products.distinct('tags', filter)    db.products.getIndexes()
  db.products.createIndex({price: 1}, {unique: true})
  db.products.dropIndex('price_1')        db.products.drop()
  db.products.aggregate([{$group: {_id: '$category', n: {$sum: 1}}}])
  db.getCollectionNames()                 db.getCollection('products').find()
find(...) may be followed by .sort .limit .skip .projection, and by
.count() or .explain(). Other methods and shell JavaScript are not
supported.`

// isDBCall reports whether a statement is in the db.<collection> form.
func isDBCall(stmt string) bool {
	return strings.HasPrefix(stmt, "db.") && len(stmt) > 3
}

// dbCall is one method call of a db statement.
type dbCall struct {
	name  string
	at    int // index of the name in the statement
	args  []arg
	close int // index of its closing parenthesis
}

// dbParser reads a db statement.
type dbParser struct {
	s      string
	i      int
	locate func(int) locator
}

func (p *dbParser) errorf(i int, format string, args ...any) error {
	return p.errAt(p.locate(0)(i), format, args...)
}

// errAt is errorf at a position already described.
func (p *dbParser) errAt(where, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...) + " at " + where, usage: "db.<collection>.<method>(...); help db lists the methods"}
}

func (p *dbParser) space() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

// ident reads a name: letters, digits, _, - and $.
func (p *dbParser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !(isWordByte(c) || c == '-' || (c >= '0' && c <= '9')) {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

// call reads name(arguments).
func (p *dbParser) call() (dbCall, error) {
	c := dbCall{at: p.i}
	c.name = p.ident()
	if c.name == "" {
		return c, p.errorf(p.i, "expected a method name")
	}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return c, p.errorf(p.i, "expected ( after %s", c.name)
	}
	p.i++
	for {
		p.space()
		if p.i >= len(p.s) {
			return c, p.errorf(p.i, "missing ) to close %s(", c.name)
		}
		if p.s[p.i] == ')' && len(c.args) == 0 {
			break
		}
		start := p.i
		switch p.s[p.i] {
		case '{', '[':
			end, err := scanJSON(p.s, p.i, p.locate(0))
			if err != nil {
				return c, err
			}
			p.i = end
			c.args = append(c.args, arg{text: p.s[start:end], json: true, at: p.locate(start)})
		case '"', '\'':
			str, end, err := quotedWord(p.s, p.i, p.locate(0))
			if err != nil {
				return c, err
			}
			p.i = end
			c.args = append(c.args, arg{text: str, at: p.locate(start)})
		default:
			for p.i < len(p.s) && !isSpace(p.s[p.i]) && p.s[p.i] != ',' && p.s[p.i] != ')' && p.s[p.i] != '(' {
				p.i++
			}
			if p.i == start {
				return c, p.errorf(p.i, "expected an argument of %s", c.name)
			}
			c.args = append(c.args, arg{text: p.s[start:p.i], at: p.locate(start)})
		}
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ')' {
				break // a trailing comma
			}
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == ')' {
			break
		}
		if p.i >= len(p.s) {
			return c, p.errorf(p.i, "missing ) to close %s(", c.name)
		}
		return c, p.errorf(p.i, "expected , or ) in %s(...), found %q", c.name, p.s[p.i])
	}
	c.close = p.i
	p.i++
	return c, nil
}

// execDBCall runs a statement of the form db.<collection>.<method>(...).
func (s *Shell) execDBCall(ctx context.Context, stmt string, locate func(int) locator) error {
	p := &dbParser{s: stmt, i: len("db."), locate: locate}
	colAt := p.i
	col := p.ident()
	if col == "getCollectionNames" || col == "getCollection" {
		p.i = colAt
		c, err := p.call()
		if err != nil {
			return err
		}
		if col == "getCollectionNames" {
			if len(c.args) > 0 {
				return p.errorf(c.at, "getCollectionNames takes no arguments")
			}
			if p.space(); p.i < len(p.s) {
				return p.errorf(p.i, "unexpected %q after getCollectionNames()", p.s[p.i])
			}
			return lookup("show collections").run(s, ctx, "", nil)
		}
		if len(c.args) != 1 || c.args[0].json {
			return p.errorf(c.at, "getCollection takes a collection name: getCollection('products')")
		}
		col = c.args[0].text
	} else if col == "" {
		return p.errorf(p.i, "expected a collection name after db.")
	}
	if err := validName(col); err != nil {
		return err
	}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '.' {
		return p.errorf(p.i, "expected .<method>(...) after db.%s", col)
	}
	p.i++
	p.space()
	method, err := p.call()
	if err != nil {
		return err
	}
	var chain []dbCall
	for p.space(); p.i < len(p.s); p.space() {
		if p.s[p.i] != '.' {
			return p.errorf(p.i, "unexpected %q after %s(...)", p.s[p.i], method.name)
		}
		p.i++
		p.space()
		c, err := p.call()
		if err != nil {
			return err
		}
		chain = append(chain, c)
	}
	name, ok := dbMethods[method.name]
	if !ok {
		msg := fmt.Sprintf("unknown method %s", method.name)
		if m := suggestFrom(method.name, dbMethodNames()); m != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", m)
		}
		return p.errorf(method.at, "%s", msg)
	}
	args := method.args
	if method.name == "estimatedDocumentCount" && len(args) > 0 {
		return p.errorf(method.at, "estimatedDocumentCount takes no filter; use countDocuments(filter)")
	}
	if method.name == "find" {
		name, args, err = s.findChain(p, method, chain)
		if err != nil {
			return err
		}
	} else if len(chain) > 0 {
		return p.errorf(chain[0].at, "%s(...) cannot be followed by .%s(); only find(...) takes cursor methods", method.name, chain[0].name)
	}
	cmd := lookup(name)
	params := cmd.params
	if len(params) > 0 && params[0].kind == pCollection {
		params = params[1:]
	} else {
		// dropCollection and stats name their collection as an argument.
		if len(args) > 0 {
			return p.errAt(args[0].at(0), "%s() takes no arguments", method.name)
		}
		args = []arg{{text: col}}
	}
	args, err = s.checkArgs(cmd, params, args)
	if err != nil {
		return err
	}
	return cmd.run(s, ctx, col, args)
}

// findChain turns find(filter, projection) and its cursor methods into
// findMany's (or count's, or explain's) arguments.
func (s *Shell) findChain(p *dbParser, find dbCall, chain []dbCall) (string, []arg, error) {
	if len(find.args) > 2 {
		return "", nil, p.errAt(find.args[2].at(0), "find takes a filter and a projection, no more")
	}
	name := "findMany"
	var opts []string
	var filter arg
	if len(find.args) > 0 {
		filter = find.args[0]
	} else {
		filter = arg{text: "{}", json: true, at: p.locate(find.close)}
	}
	jsonArg := func(a arg, what string) (string, error) {
		if !a.json {
			return "", p.errAt(a.at(0), "%s must be JSON, got %q", what, a.text)
		}
		return relaxJSON(what, a.text, a.at)
	}
	if len(find.args) > 1 {
		proj, err := jsonArg(find.args[1], "projection")
		if err != nil {
			return "", nil, err
		}
		opts = append(opts, `"projection":`+proj)
	}
	seen := map[string]bool{}
	for i, c := range chain {
		if seen[c.name] {
			return "", nil, p.errorf(c.at, "%s is given twice", c.name)
		}
		seen[c.name] = true
		one := func() (arg, error) {
			if len(c.args) != 1 {
				return arg{}, p.errorf(c.at, "%s takes one argument", c.name)
			}
			return c.args[0], nil
		}
		switch c.name {
		case "sort", "projection":
			a, err := one()
			if err != nil {
				return "", nil, err
			}
			if c.name == "projection" && len(find.args) > 1 {
				return "", nil, p.errorf(c.at, "the projection is given twice, in find and in projection")
			}
			v, err := jsonArg(a, c.name)
			if err != nil {
				return "", nil, err
			}
			opts = append(opts, strconv.Quote(c.name)+":"+v)
		case "limit", "skip":
			a, err := one()
			if err != nil {
				return "", nil, err
			}
			n, err := strconv.Atoi(a.text)
			if err != nil || n < 0 || a.json {
				return "", nil, p.errAt(a.at(0), "%s needs a whole number >= 0, got %s", c.name, a.text)
			}
			opts = append(opts, strconv.Quote(c.name)+":"+strconv.Itoa(n))
		case "pretty", "toArray":
			if len(c.args) > 0 {
				return "", nil, p.errorf(c.at, "%s takes no arguments", c.name)
			}
		case "count", "explain":
			if len(c.args) > 0 || i != len(chain)-1 {
				return "", nil, p.errorf(c.at, "%s() takes no arguments and ends the statement", c.name)
			}
			name = c.name
		default:
			msg := fmt.Sprintf("find(...) has no cursor method %s (supported: %s)", c.name, findChain)
			return "", nil, p.errorf(c.at, "%s", msg)
		}
	}
	if name == "count" {
		if len(opts) > 0 {
			return "", nil, p.errorf(chain[len(chain)-1].at, "count() counts the filter's matches; drop sort, limit, skip and projection")
		}
		return name, []arg{filter}, nil
	}
	args := []arg{filter}
	if len(opts) > 0 {
		args = append(args, arg{text: "{" + strings.Join(opts, ",") + "}", json: true, at: p.locate(find.at)})
	}
	return name, args, nil
}

// dbMethodNames returns the methods of the db form.
func dbMethodNames() []string {
	out := make([]string, 0, len(dbMethods))
	for m := range dbMethods {
		out = append(out, m)
	}
	return out
}

// suggestFrom returns the name of names closest to a mistyped one, or "".
func suggestFrom(name string, names []string) string {
	best, bestD := "", 3
	if len(name) < 3 {
		return ""
	}
	for _, c := range names {
		if d := editDistance(strings.ToLower(name), strings.ToLower(c)); d < bestD || (d == bestD && d < 3 && c < best) {
			best, bestD = c, d
		}
	}
	return best
}
