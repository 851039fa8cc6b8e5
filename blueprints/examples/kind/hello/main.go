// Command hello is the kind example's workload: an HTTP server on :8080 that
// answers every request with "hello from <pod name>", and /healthz with ok.
// Built statically (CGO_ENABLED=0), it runs in an image FROM scratch.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	name, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "hello from %s\n", name) })
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("hello: listening on %s", srv.Addr)
	log.Fatal(srv.ListenAndServe())
}
