// Command api is the monorepo's HTTP service: it answers every request
// with a greeting.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"

	"example.com/monorepo/greet"
)

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, greet.Hello("api"))
	})
	log.Printf("api listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
