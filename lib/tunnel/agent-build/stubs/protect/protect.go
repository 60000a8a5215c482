// Package protect stands in for suah.dev/protect, whose host is not on this build
// environment's Go module allowlist. Upstream wraps OpenBSD's pledge(2)/unveil(2) and is a
// no-op on every other system; wireproxy only runs on Linux here, so no-ops are exact.
// Written for anex; no upstream code copied.
package protect

// Pledge is a no-op outside OpenBSD.
func Pledge(promises string) error { return nil }

// Unveil is a no-op outside OpenBSD.
func Unveil(path string, flags string) error { return nil }

// UnveilBlock is a no-op outside OpenBSD.
func UnveilBlock() error { return nil }
