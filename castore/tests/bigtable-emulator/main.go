// Command bigtable-emulator serves Google's in-memory Bigtable (package
// cloud.google.com/go/bigtable/bttest) for tvix's integration tests.
//
// It listens on -host:-port (port 0 picks a free one), prints the address it
// listens on as its first line of stdout, and serves until killed. Requests
// up to 256 MiB are accepted, as real Bigtable does, so the tests reach the
// backends' own 10 MiB cell limit rather than gRPC's 4 MiB default.
// With -exit-with-stdin it exits once its standard input closes, so an
// emulator started by a test process ends with that process.
//
// Built offline from Debian's golang-go and golang-google-cloud-dev:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o bigtable-emulator main.go
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"

	"cloud.google.com/go/bigtable/bttest"
	"google.golang.org/grpc"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 0, "port to listen on (0: any free port)")
	exitWithStdin := flag.Bool("exit-with-stdin", false, "exit when standard input closes")
	flag.Parse()

	const maxMessage = 256 << 20
	srv, err := bttest.NewServer(
		net.JoinHostPort(*host, strconv.Itoa(*port)),
		grpc.MaxRecvMsgSize(maxMessage),
		grpc.MaxSendMsgSize(maxMessage),
	)
	if err != nil {
		log.Fatalf("starting the Bigtable emulator: %v", err)
	}
	fmt.Println(srv.Addr)
	if *exitWithStdin {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	select {}
}
