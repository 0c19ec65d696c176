//go:build cgo

package main

// A little C, so that CGO_ENABLED=1 builds link externally against libc
// and carry runtime/cgo's .eh_frame.

/*
static int gohot_c_answer(void) { return 42; }
*/
import "C"

func cgoCheck() {
	if C.gohot_c_answer() != 42 {
		panic("cgo")
	}
}
