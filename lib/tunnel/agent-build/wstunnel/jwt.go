package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The tunnel request travels as an HS256 JWT in Sec-WebSocket-Protocol. Upstream signs it with a
// per-process key the server never knows and decodes it without verification: the JWT is an
// envelope, not a credential (the path prefix is the secret). We do the same.

const jwtHeaderPrefix = "authorization.bearer."

// The header upstream's jsonwebtoken crate writes for Header::new(HS256), field order included.
const jwtHeader = `{"typ":"JWT","alg":"HS256"}`

// jwtKey is random per process, as upstream's; nothing ever verifies the signature.
var jwtKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}()

// claims mirrors upstream's JwtTunnelConfig: id, protocol (serde externally tagged enum),
// remote host (url::Host display form: IPv6 in brackets) and remote port.
type claims struct {
	ID string          `json:"id"`
	P  json.RawMessage `json:"p"`
	R  string          `json:"r"`
	RP uint16          `json:"rp"`
}

// udpProtocol is serde's form of LocalProtocol::Udp{timeout}: Option<Duration> None is null,
// Some(d) is {"secs":N,"nanos":0} (we only ever have whole seconds).
func udpProtocol(timeout time.Duration) json.RawMessage {
	if timeout <= 0 {
		return json.RawMessage(`{"Udp":{"timeout":null}}`)
	}
	return json.RawMessage(fmt.Sprintf(`{"Udp":{"timeout":{"secs":%d,"nanos":0}}}`, int64(timeout/time.Second)))
}

func encodeJWT(c claims) (string, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // serde does not escape <, > and &
	if err := enc.Encode(c); err != nil {
		return "", err
	}
	b64 := base64.RawURLEncoding
	signing := b64.EncodeToString([]byte(jwtHeader)) + "." + b64.EncodeToString(bytes.TrimSuffix(body.Bytes(), []byte("\n")))
	mac := hmac.New(sha256.New, jwtKey)
	mac.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(mac.Sum(nil)), nil
}

// decodeJWT reads the claims without verifying the signature (see above). Every claim must be
// present, as serde requires.
func decodeJWT(token string) (claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return claims{}, errors.New("not a JWT (want header.payload.signature)")
	}
	var header struct {
		Alg *string `json:"alg"`
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(raw, &header) != nil || header.Alg == nil {
		return claims{}, errors.New("JWT header is not base64url JSON with an alg")
	}
	var c struct {
		ID *string         `json:"id"`
		P  json.RawMessage `json:"p"`
		R  *string         `json:"r"`
		RP *uint16         `json:"rp"`
	}
	if raw, err = base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
		return claims{}, errors.New("JWT payload is not base64url")
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return claims{}, fmt.Errorf("JWT claims: %w", err)
	}
	if c.ID == nil || c.P == nil || c.R == nil || c.RP == nil {
		return claims{}, errors.New("JWT claims lack one of id, p, r, rp")
	}
	return claims{ID: *c.ID, P: c.P, R: *c.R, RP: *c.RP}, nil
}

// protocolName is the LocalProtocol variant in "p": a bare string for unit variants
// ("ReverseTcp"), the single key of an object otherwise ({"Udp":{...}}).
func protocolName(p json.RawMessage) (string, error) {
	var name string
	if json.Unmarshal(p, &name) == nil {
		return name, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(p, &m); err != nil || len(m) != 1 {
		return "", errors.New(`"p" is not a tunnel protocol`)
	}
	for k := range m {
		name = k
	}
	return name, nil
}

// newUUID returns a random (version 4) UUID, upstream's tunnel id format.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0F | 0x40
	b[8] = b[8]&0x3F | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
