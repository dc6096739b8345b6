// Command bigtable-emulator serves Google's in-memory Bigtable (package
// cloud.google.com/go/bigtable/bttest) for tvix's integration tests.
//
// It listens on -host:-port (port 0 picks a free one), prints the address it
// listens on as its first line of stdout, and serves until killed. Requests
// up to 256 MiB are accepted, as real Bigtable does, so the tests reach the
// backends' own 10 MiB cell limit rather than gRPC's 4 MiB default.
// With -exit-with-stdin it exits once its standard input closes, so an
// emulator started by a test process ends with that process. With
// -tables a,b it creates those tables (in -project/-instance, with the
// column family -family keeping one version) before printing its address,
// for scripts that have no admin client.
//
// Built offline from Debian's golang-go and golang-google-cloud-dev:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o bigtable-emulator main.go
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/bigtable/bttest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 0, "port to listen on (0: any free port)")
	exitWithStdin := flag.Bool("exit-with-stdin", false, "exit when standard input closes")
	tables := flag.String("tables", "", "comma-separated tables to create")
	project := flag.String("project", "tvix-test", "project of -tables")
	instance := flag.String("instance", "tvix-test", "instance of -tables")
	family := flag.String("family", "cf1", "column family of -tables")
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
	if *tables != "" {
		createTables(srv.Addr, *project, *instance, *family, strings.Split(*tables, ","))
	}
	fmt.Println(srv.Addr)
	if *exitWithStdin {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	select {}
}

func createTables(addr, project, instance, family string, tables []string) {
	ctx := context.Background()
	conn, err := grpc.Dial(addr, grpc.WithInsecure())
	if err != nil {
		log.Fatalf("connecting to the emulator: %v", err)
	}
	defer conn.Close()
	admin, err := bigtable.NewAdminClient(ctx, project, instance, option.WithGRPCConn(conn))
	if err != nil {
		log.Fatalf("admin client: %v", err)
	}
	for _, table := range tables {
		err := admin.CreateTableFromConf(ctx, &bigtable.TableConf{
			TableID:  table,
			Families: map[string]bigtable.GCPolicy{family: bigtable.MaxVersionsPolicy(1)},
		})
		if err != nil {
			log.Fatalf("creating table %s: %v", table, err)
		}
	}
}
