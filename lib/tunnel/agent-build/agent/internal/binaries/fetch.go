// Package binaries downloads the helpers the agent runs (wireproxy, wstunnel) and refuses
// any whose SHA-256 differs from the pin the bootstrap gave.
package binaries

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
)

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Pin is what to download and what it must hash to.
type Pin struct {
	Name   string
	URL    string
	SHA256 string
	// "binary" or "tar.gz" (an archive holding a file named Name)
	Format string
}

// Fetch downloads pin.URL into dir, verifies its SHA-256 and returns the path of the
// executable (mode 0700). checkURL decides which schemes are allowed.
func Fetch(ctx context.Context, client *http.Client, dir string, pin Pin, checkURL func(string) error) (string, error) {
	if !hexSHA256.MatchString(pin.SHA256) {
		return "", fmt.Errorf("refusing to run %s: no pinned SHA-256 for %s", pin.Name, pin.URL)
	}
	if err := checkURL(pin.URL); err != nil {
		return "", fmt.Errorf("refusing to download %s from %s: %w", pin.Name, pin.URL, err)
	}
	download := filepath.Join(dir, pin.Name+".download")
	sum, err := get(ctx, client, pin.URL, download)
	if err != nil {
		return "", fmt.Errorf("downloading %s from %s failed: %w", pin.Name, pin.URL, err)
	}
	if sum != pin.SHA256 {
		_ = os.Remove(download)
		return "", fmt.Errorf("checksum mismatch for %s from %s: expected SHA-256 %s, got %s; refusing to run it", pin.Name, pin.URL, pin.SHA256, sum)
	}
	target := filepath.Join(dir, pin.Name)
	switch pin.Format {
	case "", "binary":
		err = os.Rename(download, target)
	case "tar.gz":
		err = untar(download, pin.Name, target)
		_ = os.Remove(download)
	default:
		err = fmt.Errorf("unknown format %q", pin.Format)
	}
	if err != nil {
		return "", fmt.Errorf("%s from %s: %w", pin.Name, pin.URL, err)
	}
	return target, os.Chmod(target, 0o700)
}

func get(ctx context.Context, client *http.Client, url, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", res.StatusCode)
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return "", err
	}
	defer file.Close()
	hash := sha256.New()
	if _, err := io.Copy(io.MultiWriter(file, hash), res.Body); err != nil {
		return "", err
	}
	return hex.EncodeToString(hash.Sum(nil)), file.Close()
}

// untar extracts the first regular file named name (at any depth) of a .tar.gz.
func untar(archive, name, target string) error {
	file, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer file.Close()
	gz, err := gzip.NewReader(file)
	if err != nil {
		return fmt.Errorf("cannot unpack the archive: %w", err)
	}
	reader := tar.NewReader(gz)
	for {
		header, err := reader.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the archive holds no file named %s", name)
		}
		if err != nil {
			return fmt.Errorf("cannot unpack the archive: %w", err)
		}
		if header.Typeflag != tar.TypeReg || filepath.Base(header.Name) != name {
			continue
		}
		out, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o700)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, io.LimitReader(reader, 512<<20)); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
}
