package binaries

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func tarGz(t *testing.T, name string, content []byte) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "dir/" + name, Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(content)
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestFetch(t *testing.T) {
	program := []byte("#!/bin/sh\necho hi\n")
	archive := tarGz(t, "wireproxy", program)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bin":
			w.Write(program)
		case "/tgz":
			w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer server.Close()
	allow := func(string) error { return nil }
	cases := []struct {
		name string
		pin  Pin
		want string // "" = success
	}{
		{"a binary with its checksum", Pin{"wireproxy", server.URL + "/bin", sum(program), "binary"}, ""},
		{"an archive with its checksum", Pin{"wireproxy", server.URL + "/tgz", sum(archive), "tar.gz"}, ""},
		{"a wrong checksum", Pin{"wireproxy", server.URL + "/bin", strings.Repeat("0", 64), "binary"}, "checksum mismatch for wireproxy from " + server.URL + "/bin: expected SHA-256 " + strings.Repeat("0", 64) + ", got " + sum(program) + "; refusing to run it"},
		{"no checksum", Pin{"wireproxy", server.URL + "/bin", "", "binary"}, "refusing to run wireproxy: no pinned SHA-256"},
		{"a missing file", Pin{"wireproxy", server.URL + "/nope", sum(program), "binary"}, "HTTP 404"},
		{"an archive without the file", Pin{"wstunnel", server.URL + "/tgz", sum(archive), "tar.gz"}, "the archive holds no file named wstunnel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, err := Fetch(context.Background(), server.Client(), t.TempDir(), c.pin, allow)
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			info, _ := os.Stat(path)
			if !bytes.Equal(got, program) || info.Mode().Perm() != 0o700 {
				t.Fatalf("got %q mode %v", got, info.Mode())
			}
		})
	}
}
