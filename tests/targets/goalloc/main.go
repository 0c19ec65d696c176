// goalloc - a Go test target whose heap is known (tests/e2e/t_go_mem.sh).
//
//	goalloc DIR [ALARM_SECONDS]
//
// It imports runtime/pprof and samples every allocation
// (runtime.MemProfileRate = 1, set before main runs), so that its memory
// profile is exact. Three sites allocate, every round (20 ms), and keep
// the last of their objects in a ring, the rest becoming garbage:
//
//	site          object             per round   kept (in use)
//	main.allocBig  40 KiB (large)    5           100  (4000 KiB)
//	main.allocMid  4 KiB             40          200  (800 KiB)
//	main.allocTiny 512 B             100         250  (125 KiB)
//
// so that both in use and allocated bytes rank them Big, Mid, Tiny.
//
// SIGUSR1 stops the allocations, runs a GC (which also finishes the
// sweep, so that the heap then stays put), writes
// pprof.WriteHeapProfile to DIR/heap.N.pb.gz, then reads
// runtime.ReadMemStats and prints
//
//	memstats N heap_alloc H heap_objects O heap_inuse I next_gc G num_gc C gogc P memory_limit L
//
// and allocates nothing more until SIGUSR2. N counts the dumps from 1.
//
// The process dies with the harness (PR_SET_PDEATHSIG) or after
// ALARM_SECONDS (default 300), allows any tracer (Yama ptrace_scope=1) and
// prints "ready PID" once the allocations run.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func init() {
	runtime.MemProfileRate = 1
}

var (
	mu         sync.Mutex // held by a round; held by main while paused
	big        [100][]byte
	mid        [200][]byte
	tiny       [250][]byte
	nb, nm, nt int
)

//go:noinline
func allocBig() {
	for i := 0; i < 5; i++ {
		big[nb%len(big)] = make([]byte, 40<<10)
		nb++
	}
}

//go:noinline
func allocMid() {
	for i := 0; i < 40; i++ {
		mid[nm%len(mid)] = make([]byte, 4<<10)
		nm++
	}
}

//go:noinline
func allocTiny() {
	for i := 0; i < 100; i++ {
		tiny[nt%len(tiny)] = make([]byte, 512)
		nt++
	}
}

func rounds() {
	for {
		mu.Lock()
		allocBig()
		allocMid()
		allocTiny()
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

func dump(dir string, n int, gogc int, limit int64) {
	runtime.GC()
	f, err := os.Create(dir + "/heap." + strconv.Itoa(n) + ".pb.gz")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f.Close()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("memstats %d heap_alloc %d heap_objects %d heap_inuse %d "+
		"next_gc %d num_gc %d gogc %d memory_limit %d\n", n,
		ms.HeapAlloc, ms.HeapObjects, ms.HeapInuse, ms.NextGC,
		ms.NumGC, gogc, limit)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goalloc DIR [ALARM_SECONDS]")
		os.Exit(64)
	}
	dir, alarm := os.Args[1], 300
	if len(os.Args) > 2 {
		v, err := strconv.Atoi(os.Args[2])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "bad alarm seconds:", os.Args[2])
			os.Exit(64)
		}
		alarm = v
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

	// GOGC and GOMEMLIMIT as the runtime took them: read back by setting
	// them to what they are
	gogc := debug.SetGCPercent(100)
	debug.SetGCPercent(gogc)
	limit := debug.SetMemoryLimit(-1)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	go rounds()
	fmt.Printf("ready %d\n", os.Getpid())
	paused, n := false, 0
	for s := range sigs {
		switch {
		case s == syscall.SIGUSR1 && !paused:
			mu.Lock()
			paused = true
			n++
			dump(dir, n, gogc, limit)
		case s == syscall.SIGUSR2 && paused:
			paused = false
			mu.Unlock()
		}
	}
}
