// Command grpchealth is the probe tests' gRPC server: grpc-go's own health service
// (google.golang.org/grpc/health), so the agent's hand-written client is checked against the
// real protocol, not against our reading of it. It listens on 127.0.0.1 (a free port),
// prints the port, and sets each "service=STATUS" argument (STATUS: SERVING, NOT_SERVING).
// Its own module: grpc-go never enters the agent's build.
package main

import (
	"fmt"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server := grpc.NewServer()
	checks := health.NewServer()
	for _, arg := range os.Args[1:] {
		service, status, _ := strings.Cut(arg, "=")
		checks.SetServingStatus(service, healthpb.HealthCheckResponse_ServingStatus(healthpb.HealthCheckResponse_ServingStatus_value[status]))
	}
	healthpb.RegisterHealthServer(server, checks)
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	if err := server.Serve(listener); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
