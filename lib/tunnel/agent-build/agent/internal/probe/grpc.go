package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"anex.local/agent-build/agent/internal/endpoint"
)

// grpcCheck is kubelet's grpc probe (pkg/probe/grpc): grpc.health.v1.Health/Check over
// plaintext HTTP/2 (h2c, no TLS, as kubelet dials it), SERVING succeeds. It speaks the few
// bytes of gRPC the health check needs — a length-prefixed protobuf request with the
// service name (field 1) and the status (field 1, an enum) of the answer — rather than
// linking a gRPC library into the agent every rented machine downloads. Failures are worded
// as kubelet words them.
func grpcCheck(ctx context.Context, g *endpoint.GRPC, timeout time.Duration) (bool, string) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(g.Port))
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	client := &http.Client{Transport: &http.Transport{Protocols: &protocols, Proxy: nil, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/grpc.health.v1.Health/Check",
		bytes.NewReader(healthRequest(g.Service)))
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("User-Agent", "kube-probe/anex")
	res, err := client.Do(req)
	if err != nil {
		return false, fmt.Sprintf("timeout: failed to connect service %q within %v: %v", addr, timeout, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64*1024))
	if err != nil {
		if ctx.Err() != nil {
			return false, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)
		}
		return false, fmt.Sprintf("rpc error: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("rpc error: HTTP status %d", res.StatusCode)
	}
	// A trailers-only answer carries grpc-status in the headers.
	status := res.Trailer.Get("Grpc-Status")
	if status == "" {
		status = res.Header.Get("Grpc-Status")
	}
	message := res.Trailer.Get("Grpc-Message")
	if message == "" {
		message = res.Header.Get("Grpc-Message")
	}
	switch status {
	case "0":
	case "12": // Unimplemented
		return false, fmt.Sprintf("this server does not implement the grpc health protocol (grpc.health.v1.Health): %s", message)
	case "4": // DeadlineExceeded
		return false, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)
	default:
		return false, fmt.Sprintf("rpc error: code = %s desc = %s", grpcCode(status), message)
	}
	serving, err := healthStatus(body)
	if err != nil {
		return false, fmt.Sprintf("rpc error: %v", err)
	}
	if serving != 1 {
		return false, fmt.Sprintf("service unhealthy (responded with %q)", servingName(serving))
	}
	return true, ""
}

// healthRequest is one gRPC message: HealthCheckRequest{service} behind its 5-byte prefix.
func healthRequest(service string) []byte {
	var msg []byte
	if service != "" {
		msg = append([]byte{0x0a}, binary.AppendUvarint(nil, uint64(len(service)))...)
		msg = append(msg, service...)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	return append(frame, msg...)
}

// healthStatus reads HealthCheckResponse.status from the first gRPC message of body.
func healthStatus(body []byte) (uint64, error) {
	if len(body) < 5 {
		return 0, errors.New("no health answer")
	}
	if body[0] != 0 {
		return 0, errors.New("compressed health answer")
	}
	size := binary.BigEndian.Uint32(body[1:5])
	if uint32(len(body)-5) < size {
		return 0, errors.New("truncated health answer")
	}
	msg := body[5 : 5+size]
	status := uint64(0) // proto3: an absent field is 0, UNKNOWN
	for len(msg) > 0 {
		key, n := binary.Uvarint(msg)
		if n <= 0 {
			return 0, errors.New("malformed health answer")
		}
		msg = msg[n:]
		field, wire := key>>3, key&7
		switch wire {
		case 0:
			value, n := binary.Uvarint(msg)
			if n <= 0 {
				return 0, errors.New("malformed health answer")
			}
			msg = msg[n:]
			if field == 1 {
				status = value
			}
		case 2:
			length, n := binary.Uvarint(msg)
			if n <= 0 || uint64(len(msg)-n) < length {
				return 0, errors.New("malformed health answer")
			}
			msg = msg[n+int(length):]
		default:
			return 0, fmt.Errorf("unexpected wire type %d in the health answer", wire)
		}
	}
	return status, nil
}

// servingName is grpc.health.v1.HealthCheckResponse.ServingStatus's name.
func servingName(v uint64) string {
	switch v {
	case 0:
		return "UNKNOWN"
	case 1:
		return "SERVING"
	case 2:
		return "NOT_SERVING"
	case 3:
		return "SERVICE_UNKNOWN"
	}
	return strconv.FormatUint(v, 10)
}

var grpcCodes = []string{"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
	"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
	"Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"}

func grpcCode(status string) string {
	if n, err := strconv.Atoi(status); err == nil && n >= 0 && n < len(grpcCodes) {
		return grpcCodes[n]
	}
	return "Code(" + status + ")"
}
