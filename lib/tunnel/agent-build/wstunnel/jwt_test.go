package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestJWTClaimsJSON(t *testing.T) {
	tests := []struct {
		spec string
		want string // claims with the id left out
	}{
		{"udp://51820:127.0.0.1:51820", `"p":{"Udp":{"timeout":{"secs":30,"nanos":0}}},"r":"127.0.0.1","rp":51820}`},
		{"udp://51820:127.0.0.1:51820?timeout_sec=0", `"p":{"Udp":{"timeout":null}},"r":"127.0.0.1","rp":51820}`},
		{"udp://127.0.0.1:1:localhost:2?timeout_sec=10", `"p":{"Udp":{"timeout":{"secs":10,"nanos":0}}},"r":"localhost","rp":2}`},
		{"udp://[::1]:1:[::1]:443?timeout_sec=0", `"p":{"Udp":{"timeout":null}},"r":"[::1]","rp":443}`},
		{"udp://1:Gateway.Example.COM:2?timeout_sec=0", `"p":{"Udp":{"timeout":null}},"r":"gateway.example.com","rp":2}`},
	}
	b64 := base64.RawURLEncoding
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			spec, err := parseTunnelSpec(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			c := spec.claims()
			if !uuidV4.MatchString(c.ID) {
				t.Fatalf("id %q is not a UUID v4", c.ID)
			}
			token, err := encodeJWT(c)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(token, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d parts", len(parts))
			}
			header, _ := b64.DecodeString(parts[0])
			payload, _ := b64.DecodeString(parts[1])
			if string(header) != `{"typ":"JWT","alg":"HS256"}` {
				t.Errorf("header = %s", header)
			}
			if want := `{"id":"` + c.ID + `",` + tc.want; string(payload) != want {
				t.Errorf("claims =\n %s\nwant\n %s", payload, want)
			}
			mac := hmac.New(sha256.New, jwtKey)
			mac.Write([]byte(parts[0] + "." + parts[1]))
			if sig, _ := b64.DecodeString(parts[2]); !hmac.Equal(sig, mac.Sum(nil)) {
				t.Error("HS256 signature does not verify")
			}
			got, err := decodeJWT(token)
			if err != nil {
				t.Fatal(err)
			}
			if name, err := protocolName(got.P); err != nil || name != "Udp" || got.ID != c.ID || got.R != c.R || got.RP != c.RP {
				t.Errorf("decoded %+v (protocol %q, %v), want %+v", got, name, err, c)
			}
		})
	}
}

func TestDecodeJWTRejects(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	hdr := enc(`{"typ":"JWT","alg":"HS256"}`)
	tests := map[string]string{
		"empty":            "",
		"two parts":        hdr + "." + enc(`{}`),
		"header not b64":   "!!." + enc(`{}`) + ".x",
		"header no alg":    enc(`{"typ":"JWT"}`) + "." + enc(`{"id":"a","p":"Udp","r":"h","rp":1}`) + ".x",
		"payload not b64":  hdr + ".!!.x",
		"payload not json": hdr + "." + enc(`nope`) + ".x",
		"missing rp":       hdr + "." + enc(`{"id":"a","p":{"Udp":{"timeout":null}},"r":"h"}`) + ".x",
		"rp out of range":  hdr + "." + enc(`{"id":"a","p":{"Udp":{"timeout":null}},"r":"h","rp":70000}`) + ".x",
	}
	for name, token := range tests {
		if c, err := decodeJWT(token); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, c)
		}
	}
}

func TestProtocolName(t *testing.T) {
	tests := []struct {
		p, want string
		ok      bool
	}{
		{`{"Udp":{"timeout":null}}`, "Udp", true},
		{`{"Tcp":{"proxy_protocol":false}}`, "Tcp", true},
		{`{"ReverseUdp":{"timeout":null}}`, "ReverseUdp", true},
		{`"ReverseTcp"`, "ReverseTcp", true},
		{`{"Udp":{},"Tcp":{}}`, "", false},
		{`42`, "", false},
	}
	for _, tc := range tests {
		got, err := protocolName(json.RawMessage(tc.p))
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("protocolName(%s) = %q, %v; want %q, ok=%v", tc.p, got, err, tc.want, tc.ok)
		}
	}
}
