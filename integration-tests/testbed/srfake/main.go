// A schema registry for the test bed: franz-go's srfake, an in-memory implementation of
// the Confluent Schema Registry REST API, served on a random 127.0.0.1 port. Prints the
// URL on stdout, then serves until stdin closes (the test process is gone) or a signal
// (with -detached, only a signal: `dev-kafka up --schema-registry`).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func main() {
	auth := flag.String("auth", "", "the exact Authorization header every request must carry")
	detached := flag.Bool("detached", false, "serve until a signal, ignoring stdin")
	flag.Parse()
	var opts []srfake.Option
	if *auth != "" {
		opts = append(opts, srfake.WithAuth(*auth))
	}
	reg := srfake.New(opts...)
	defer reg.Close()
	fmt.Println(reg.URL())

	done := make(chan struct{})
	if !*detached {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(done)
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-done:
	case <-sig:
	}
}
