// gor - a Go test target with known goroutines, for profd's goroutine
// dumps and whole Go stacks (tests/e2e/t_go_goroutines.sh,
// tests/e2e/t_go_gcstacks.sh, bench/bench.sh's goroutines section).
//
//	gor [-chan N] [-sleep M] [-syscall K] [-busy] [-deep D] [-gc]
//	    [-goroutines G] [-cpuprofile FILE [-seconds S]] [-dump FILE]
//	    [-alarm SECONDS]
//
// main.main starts every goroutine with a go statement of a named function
// that takes no arguments, so that the goroutine starts in that function
// itself (a go statement with arguments starts in a wrapper closure) and
// Go's dumps say "created by main.main":
//
//	-chan N        N main.chanWaiter, parked receiving from one channel
//	               ("[chan receive]")
//	-sleep M       M main.sleeper in time.Sleep(time.Hour) ("[sleep]")
//	-syscall K     K main.syscaller blocked in read(2) of the read end of a
//	               pipe nobody writes to, through syscall.Syscall (a
//	               blocking descriptor: "[syscall]")
//	-busy          one main.busy spinning on the CPU ("[running]" or
//	               "[runnable]")
//	-deep D        one main.deep, D calls deep with a 1 KiB array in each
//	               frame (its stack grows from 2 KiB many times over), parked
//	               receiving from a channel at the bottom
//	-gc            one main.churn allocating short-lived pointerful objects
//	               into a rotating live set: GC assists, write barriers,
//	               background mark workers and, through main.grow, stack
//	               growth after every GC has shrunk the stack
//	-goroutines G  G main.parked, parked receiving from one channel
//	-cpuprofile F  on SIGUSR1, record this program's own CPU profile with
//	               runtime/pprof for -seconds S (default 5) into F, printing
//	               "cpuprofile started" and then "cpuprofile done"
//	-dump FILE     on each SIGUSR2, write Go's own goroutine dumps
//	               (runtime/pprof, debug=0, 1 and 2) to FILE.0, FILE.1
//	               and FILE.2 and print "dump done N", N counting them (the
//	               reference a test checks its parser with; one more
//	               goroutine, main.selfDumps, waits for the signal)
//
// Lines the tests look for in the dumps carry a marker comment "gor:NAME"
// (tests find their numbers with grep -n, never by number).
//
// Once every goroutine has been started and has passed its handshake
// (just before it blocks: the tests poll a dump until all have blocked),
// gor prints "goroutines N" (runtime.NumGoroutine) and "ready PID". It
// dies with the harness (PR_SET_PDEATHSIG) or after -alarm seconds
// (default 300), and allows any tracer (Yama ptrace_scope=1).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

var (
	nChan     = flag.Int("chan", 0, "goroutines parked on a channel receive")
	nSleep    = flag.Int("sleep", 0, "goroutines in time.Sleep")
	nSyscall  = flag.Int("syscall", 0, "goroutines blocked in read(2)")
	withBusy  = flag.Bool("busy", false, "one goroutine spinning")
	deepD     = flag.Int("deep", 0, "depth of the recursive goroutine")
	withGC    = flag.Bool("gc", false, "a GC-heavy goroutine")
	nParked   = flag.Int("goroutines", 0, "extra goroutines parked")
	cpuFile   = flag.String("cpuprofile", "", "own CPU profile, on SIGUSR1")
	cpuSecs   = flag.Int("seconds", 5, "length of the own CPU profile")
	dumpFile  = flag.String("dump", "", "own goroutine dumps, on SIGUSR2")
	alarmSecs = flag.Int("alarm", 300, "exit after this many seconds")

	started sync.WaitGroup // every goroutine passed its handshake

	waitCh  = make(chan int) // chanWaiter's; nobody sends
	deepCh  = make(chan int) // deep's bottom; nobody sends
	parkCh  = make(chan int) // parked's; nobody sends
	pipeFd  int              // read end of a pipe nobody writes to
	sinkU   uint64
	sinkObj []*obj
)

func chanWaiter() {
	started.Done()
	<-waitCh // gor:chan-block
}

func sleeper() {
	started.Done()
	time.Sleep(time.Hour) // gor:sleep-block
}

func syscaller() {
	var b [8]byte

	started.Done()
	for {
		// A ptrace stop does not end the read (the kernel restarts
		// it), but whatever does, the goroutine blocks again.
		syscall.Syscall(syscall.SYS_READ, uintptr(pipeFd), // gor:syscall-block
			uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	}
}

//go:noinline
func busy() {
	x := uint64(1)

	started.Done()
	for {
		x = x*6364136223846793005 + 1442695040888963407
		if x == 0 {
			sinkU = x
		}
	}
}

// deep calls itself d times, each frame with a 1 KiB array that lives
// across the call, then parks.
//
//go:noinline
func deep(d int) {
	var buf [1024]byte

	buf[d%len(buf)] = byte(d)
	if d > 1 {
		deep(d - 1) // gor:deep-call
	} else {
		started.Done()
		<-deepCh // gor:deep-block
	}
	sinkU += uint64(buf[(d*7)%len(buf)])
}

func deepRoot() {
	deep(*deepD) // gor:deep-root
}

func parked() {
	started.Done()
	<-parkCh // gor:parked-block
}

// obj is pointerful: marking follows next and peers, and every store of
// a pointer into one while the GC marks goes through a write barrier.
type obj struct {
	next  *obj
	peers [6]*obj
	id    int
}

const liveN = 1 << 16 // the live set: 64 Ki objects of 64 bytes

// grow calls itself d times with a 512-byte frame: 16 KiB for d = 32,
// more than the stack that every GC shrinks back, so that it grows again.
//
//go:noinline
func grow(d int) uint64 {
	var a [64]uint64

	a[d&63] = uint64(d)
	if d > 0 {
		a[(d+1)&63] = grow(d - 1)
	}
	return a[(d*5)&63]
}

// churn allocates without end: each round one obj that replaces one of
// the live set and points at others in it, and a short-lived slice of
// pointers; now and then it grows its stack.
func churn() {
	live := make([]*obj, liveN)

	started.Done()
	for i := 0; ; i++ {
		o := &obj{id: i}
		o.next = live[(i*7919)&(liveN-1)]
		for j := range o.peers {
			o.peers[j] = live[(i+j*4099)&(liveN-1)]
		}
		live[i&(liveN-1)] = o
		tmp := make([]*obj, 16)
		tmp[i&15] = o
		sinkObj = tmp
		if i&1023 == 0 {
			sinkU += grow(32)
		}
	}
}

// harness: what tests/targets/target.h does for the C targets.
func harness() {
	const prSetPtracer, prSetPtracerAny = 0x59616d61, ^uintptr(0)
	parent := os.Getppid()

	// Any tracer may attach (Yama ptrace_scope=1); the harness's death
	// kills us.
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetPtracer, prSetPtracerAny, 0)
	syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG,
		uintptr(syscall.SIGKILL), 0)
	if os.Getppid() != parent {
		os.Exit(1) // the harness died before the prctl
	}
	time.AfterFunc(time.Duration(*alarmSecs)*time.Second, func() {
		os.Exit(142)
	})
}

// ownProfile waits for SIGUSR1, then records this program's own CPU
// profile for -seconds into -cpuprofile.
func ownProfile(sig chan os.Signal) {
	<-sig
	f, err := os.Create(*cpuFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("cpuprofile started")
	time.Sleep(time.Duration(*cpuSecs) * time.Second)
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("cpuprofile done")
}

// selfDumps writes Go's own goroutine dumps at each SIGUSR2.
func selfDumps(sig chan os.Signal) {
	for n := 1; ; n++ {
		<-sig
		for _, debug := range []int{0, 1, 2} {
			name := fmt.Sprintf("%s.%d", *dumpFile, debug)
			f, err := os.Create(name)
			if err == nil {
				err = pprof.Lookup("goroutine").WriteTo(f, debug)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		fmt.Printf("dump done %d\n", n)
	}
}

func main() {
	flag.Parse()
	if flag.NArg() > 0 || *nChan < 0 || *nSleep < 0 || *nSyscall < 0 ||
		*deepD < 0 || *nParked < 0 || *cpuSecs <= 0 || *alarmSecs <= 0 {
		flag.Usage()
		os.Exit(64)
	}
	harness()
	var sig chan os.Signal
	if *cpuFile != "" {
		sig = make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
	}
	if *dumpFile != "" {
		dsig := make(chan os.Signal, 1)
		signal.Notify(dsig, syscall.SIGUSR2)
		go selfDumps(dsig)
	}
	if *nSyscall > 0 {
		var p [2]int
		if err := syscall.Pipe(p[:]); err != nil {
			fmt.Fprintln(os.Stderr, "pipe:", err)
			os.Exit(1)
		}
		pipeFd = p[0]
	}

	for i := 0; i < *nChan; i++ {
		started.Add(1)
		go chanWaiter() // gor:chan-go
	}
	for i := 0; i < *nSleep; i++ {
		started.Add(1)
		go sleeper() // gor:sleep-go
	}
	for i := 0; i < *nSyscall; i++ {
		started.Add(1)
		go syscaller() // gor:syscall-go
	}
	if *withBusy {
		started.Add(1)
		go busy() // gor:busy-go
	}
	if *deepD > 0 {
		started.Add(1)
		go deepRoot() // gor:deep-go
	}
	if *withGC {
		started.Add(1)
		go churn() // gor:churn-go
	}
	for i := 0; i < *nParked; i++ {
		started.Add(1)
		go parked() // gor:parked-go
	}
	started.Wait()

	fmt.Printf("goroutines %d\n", runtime.NumGoroutine())
	fmt.Printf("ready %d\n", os.Getpid())
	if sig != nil {
		ownProfile(sig)
	}
	select {} // gor:main-block
}
