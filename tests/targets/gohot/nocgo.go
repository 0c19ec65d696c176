//go:build !cgo

package main

func cgoCheck() {}
