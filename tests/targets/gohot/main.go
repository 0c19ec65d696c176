// gohot - a Go test target whose CPU time splits 50/30/20 between three
// hot spots reached through distinct call chains (tests/e2e/go_lib.sh).
//
//	gohot [WORKERS [ALARM_SECONDS]]   WORKERS busy goroutines (default 1)
//	gohot calib [ROUNDS]              measure the split and print it
//
// Expected stacks, innermost first (then main.main.func2, the wrapper of
// the go statement, and runtime.goexit):
//
//	main.hotA, main.chainA1, main.doRound, main.worker              50 %
//	hash/fnv.(*sum64a).Write, main.hashB, main.doRound, main.worker 30 %
//	main.mixC (inlined), main.hotC, main.doRound, main.worker       20 %
//
// main.hotA is a frameless leaf: it calls nothing and keeps everything in
// registers, so the compiler gives it no frame (no SUBQ SP, no BP save:
// go tool objdump -s main.hotA) and a frame-pointer walk loses its caller,
// main.chainA1. hash/fnv's Write, a method in another package path, is
// frameless too and is called through the hash.Hash64 interface, so it
// cannot be inlined. main.mixC is small enough for Go's inliner and exists
// only inlined into main.hotC (go build -gcflags=-m: "inlining call to
// mixC"), where it has most of hotC's cycles.
//
// hotA and mixC run the same serially dependent multiply chain, 5 and 2
// units of it per round, so their 50:20 holds by construction. fnv's Write
// is different code; the number of bytes it hashes per round is set so
// that it takes 3 units' time: measured at start-up, then adjusted every
// timedEvery rounds from the thread CPU time each part took, so the split
// holds whatever the machine and its load. A round takes about 0.3 ms,
// far shorter than a sampling period.
//
// The process dies with the harness (PR_SET_PDEATHSIG) or after
// ALARM_SECONDS (default 300), allows any tracer (Yama ptrace_scope=1) and
// prints "ready PID" once the workers run.
package main

import (
	"fmt"
	"hash"
	"hash/fnv"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

const (
	unitIters = 20000
	unitsA    = 5
	unitsB    = 3
	unitsC    = 2

	// One round in timedEvery measures its parts.
	timedEvery = 32
)

var (
	sink uint64
	seed uint64 = 1

	// How many bytes hashB hashes per round (unitsB units' time).
	fnvBytes = unitsB * unitIters
	fnvBuf   []byte

	// Thread CPU time of each part over the timed rounds (calib mode).
	spent [3]int64
)

//go:noinline
func hotA(x uint64, n int) uint64 {
	for i := 0; i < n; i++ {
		x = (x ^ x>>29) * 0x9e3779b97f4a7c15
	}
	return x
}

//go:noinline
func chainA1(x uint64) uint64 {
	return hotA(x, unitsA*unitIters) + 1
}

//go:noinline
func hashB(h hash.Hash64, x uint64) uint64 {
	h.Reset()
	h.Write(fnvBuf[:fnvBytes])
	return h.Sum64() ^ x
}

func mixC(x uint64) uint64 {
	return (x ^ x>>31) * 0xbf58476d1ce4e5b9
}

//go:noinline
func hotC(x uint64, n int) uint64 {
	for i := 0; i < n; i++ {
		x = mixC(x)
	}
	return x
}

// threadCPU is this thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID):
// time the thread waited for a CPU does not count.
func threadCPU() int64 {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3

	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID,
		uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// adjust moves fnvBytes towards the size that makes hashB take unitsB
// units' time, by at most 5 % a step so that one odd measurement does
// little.
func adjust(ta, tb, tc int64) {
	if ta <= 0 || tb <= 0 || tc <= 0 {
		return
	}
	want := float64(ta+tc) * unitsB / (unitsA + unitsC)
	f := want / float64(tb)
	if f > 1.05 {
		f = 1.05
	} else if f < 0.95 {
		f = 0.95
	}
	n := int(float64(fnvBytes) * f)
	if n >= 1024 && n <= len(fnvBuf) {
		fnvBytes = n
	}
}

//go:noinline
func doRound(h hash.Hash64, x uint64, timed bool) uint64 {
	if !timed {
		x = chainA1(x)
		x = hashB(h, x)
		x = hotC(x, unitsC*unitIters)
		return x + 1
	}
	t0 := threadCPU()
	x = chainA1(x)
	t1 := threadCPU()
	x = hashB(h, x)
	t2 := threadCPU()
	x = hotC(x, unitsC*unitIters)
	t3 := threadCPU()
	spent[0] += t1 - t0
	spent[1] += t2 - t1
	spent[2] += t3 - t2
	adjust(t1-t0, t2-t1, t3-t2)
	return x + 1
}

//go:noinline
func worker(id int) {
	// The thread CPU clock needs the goroutine to stay on its thread.
	runtime.LockOSThread()
	h := fnv.New64a()
	x := seed + uint64(id)
	for r := 0; ; r++ {
		x = doRound(h, x, r%timedEvery == 0)
		sink = x
	}
}

// calibrate sets the first fnvBytes from the best of several timings of
// each kind of work.
func calibrate() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h := fnv.New64a()
	x := seed
	var bestUnit, bestFnv int64 = 1 << 62, 1 << 62
	const reps = 20
	for r := 0; r < 9; r++ {
		t0 := threadCPU()
		for i := 0; i < reps; i++ {
			x = hotA(x, unitIters)
		}
		t1 := threadCPU()
		for i := 0; i < reps; i++ {
			x = hashB(h, x)
		}
		t2 := threadCPU()
		if t1-t0 < bestUnit {
			bestUnit = t1 - t0
		}
		if t2-t1 < bestFnv {
			bestFnv = t2 - t1
		}
	}
	sink = x
	if bestUnit > 0 && bestFnv > 0 {
		n := float64(fnvBytes) * float64(unitsB*bestUnit) /
			float64(bestFnv)
		if n >= 1024 && n <= float64(len(fnvBuf)) {
			fnvBytes = int(n)
		}
	}
}

// calib times every round's parts and prints the split.
func calib(rounds int) {
	runtime.LockOSThread()
	h := fnv.New64a()
	x := seed
	for r := 0; r < rounds; r++ {
		x = doRound(h, x, true)
	}
	sink = x
	sum := float64(spent[0] + spent[1] + spent[2])
	fmt.Printf("rounds %d, %.3f ms per round, fnv %d bytes\n", rounds,
		sum/float64(rounds)/1e6, fnvBytes)
	fmt.Printf("hotA %.2f%% fnv %.2f%% hotC %.2f%%\n",
		100*float64(spent[0])/sum, 100*float64(spent[1])/sum,
		100*float64(spent[2])/sum)
}

func arg(s, what string) int {
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		fmt.Fprintf(os.Stderr, "bad %s: %s\n", what, s)
		os.Exit(64)
	}
	return v
}

func main() {
	fnvBuf = make([]byte, 16*unitIters)
	for i := range fnvBuf {
		fnvBuf[i] = byte(i * 7)
	}
	cgoCheck()
	calibrate()
	if len(os.Args) > 1 && os.Args[1] == "calib" {
		rounds := 2000
		if len(os.Args) > 2 {
			rounds = arg(os.Args[2], "rounds")
		}
		calib(rounds)
		return
	}

	workers, alarm := 1, 300
	if len(os.Args) > 1 {
		workers = arg(os.Args[1], "worker count")
	}
	if len(os.Args) > 2 {
		alarm = arg(os.Args[2], "alarm seconds")
	}
	// As tests/targets/target.h does for the C targets: any tracer may
	// attach (Yama ptrace_scope=1), and the harness's death kills us.
	const prSetPtracer, prSetPtracerAny = 0x59616d61, ^uintptr(0)
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetPtracer, prSetPtracerAny, 0)
	ppid := os.Getppid()
	syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG,
		uintptr(syscall.SIGKILL), 0)
	if os.Getppid() != ppid {
		os.Exit(1) // the parent died before the prctl
	}
	time.AfterFunc(time.Duration(alarm)*time.Second, func() {
		os.Exit(142)
	})

	for i := 0; i < workers; i++ {
		go worker(i)
	}
	fmt.Printf("ready %d\n", os.Getpid())
	select {}
}
