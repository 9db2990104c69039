// Runs aggregation cases with mingo (an independent implementation of
// MongoDB's pipeline) for TestAggregateDifferential: reads
// {"cases": [{"docs": [...], "pipeline": [...]}]} from the file named by
// argv[2] and prints one JSON line per case: {"result": [...]} or
// {"error": "..."}.
const fs = require("fs");
const { Aggregator } = require("mingo");
const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
for (const c of input.cases) {
  let out;
  try {
    out = { result: new Aggregator(c.pipeline).run(c.docs) };
  } catch (e) {
    out = { error: String(e && e.message) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}
