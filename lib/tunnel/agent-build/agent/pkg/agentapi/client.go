package agentapi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// UpgradeError is a refusal of an upgrade: the agent's status code and its one-sentence reason.
type UpgradeError struct {
	Code    int
	Message string
}

func (e *UpgradeError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Message) }

// Upgrade asks for token (UpgradeStream or UpgradeTCP) on conn with POST target (a path and
// query, such as PathExec+"?command=sh") and reads the agent's answer. On 101 the stream
// follows: read it from the returned reader (it may hold the stream's first bytes), write it
// to conn. Any other answer is an *UpgradeError.
func Upgrade(conn net.Conn, target, token string) (*bufio.Reader, error) {
	request := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: agent\r\nConnection: Upgrade\r\nUpgrade: %s\r\nContent-Length: 0\r\n\r\n", target, token)
	if _, err := io.WriteString(conn, request); err != nil {
		return nil, err
	}
	reader := bufio.NewReader(conn)
	res, err := http.ReadResponse(reader, nil)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusSwitchingProtocols && strings.EqualFold(res.Header.Get("Upgrade"), token) {
		return reader, nil
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	_ = res.Body.Close()
	return nil, &UpgradeError{Code: res.StatusCode, Message: strings.TrimSpace(string(body))}
}
