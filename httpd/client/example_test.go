package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/minidbgo/minidbgo/httpd/client"
)

// Product is a document of the "products" collection.
type Product struct {
	ID    string  `json:"_id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

// serverURL is the server the examples talk to: MINIDBGO_URL, or the
// default port on this machine.
func serverURL() string {
	if u := os.Getenv("MINIDBGO_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:6866"
}

// The examples need a running server (make run), so they are compiled
// by go test but not run; httpd's TestClientExample runs the same steps
// against a real server.
func Example() {
	ctx := context.Background()
	c := client.New(serverURL())
	c.APIKey = os.Getenv("MINIDBGO_API_KEY") // when the server has keys
	c.Retry = &client.Retry{Attempts: 5}     // resend what a busy server refused

	// Store documents: any value that encodes to a JSON object.
	if _, err := c.Insert(ctx, "products", Product{ID: "p1", Name: "lamp", Price: 20}, nil); err != nil {
		log.Fatal(err)
	}
	if _, err := c.InsertMany(ctx, "products", []Product{
		{ID: "p2", Name: "desk", Price: 150},
		{ID: "p3", Name: "pen", Price: 2},
	}); err != nil {
		log.Fatal(err)
	}

	// Read one back into a struct.
	var p Product
	rev, err := c.Get(ctx, "products", "p1", &p)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Name, p.Price)

	// Change it only if nobody else did since (412 otherwise).
	if _, err := c.Patch(ctx, "products", "p1", map[string]any{"$inc": map[string]any{"price": 5}},
		&client.WriteOptions{IfMatch: rev}); err != nil {
		log.Fatal(err)
	}

	// Filters are any value too, or JSON text.
	n, err := c.Count(ctx, "products", `{"price": {"$gt": 10}}`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "products over 10")

	// Every matching document, page after page.
	for doc, err := range c.Documents(ctx, "products", client.Query{Filter: map[string]any{}, Sort: "-price", Limit: 100}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(doc))
	}

	// Errors carry the server's status and code.
	_, err = c.Get(ctx, "products", "nope", nil)
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code)
	}
}

// A busy server answers 503 with Retry-After; without a retry policy the
// error says how long to wait.
func ExampleError_retryAfter() {
	c := client.New(serverURL())
	_, err := c.Insert(context.Background(), "products", Product{ID: "p4", Name: "chair"}, nil)
	var e *client.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		time.Sleep(e.RetryAfter)
		_, err = c.Insert(context.Background(), "products", Product{ID: "p4", Name: "chair"}, nil)
	}
	if err != nil {
		log.Fatal(err)
	}
}
