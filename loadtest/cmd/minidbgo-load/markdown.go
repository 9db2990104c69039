package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/minidbgo/minidbgo/loadtest/internal/report"
)

// runMarkdown is "minidbgo-load markdown -o FILE REPORT.json…".
func runMarkdown(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("markdown", flag.ContinueOnError)
	fs.SetOutput(stderr)
	outPath := fs.String("o", "", "output file (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: markdown needs JSON reports", errUsage)
	}
	var reports []*report.Report
	for _, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var r report.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if r.Schema != report.Schema {
			return fmt.Errorf("%s: schema %q, want %q", p, r.Schema, report.Schema)
		}
		reports = append(reports, &r)
	}
	md := report.Markdown(reports)
	if *outPath == "" {
		_, err := os.Stdout.WriteString(md)
		return err
	}
	return os.WriteFile(*outPath, []byte(md), 0o644)
}
