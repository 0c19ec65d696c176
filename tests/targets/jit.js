// jit - JavaScript test target: a hot function that V8 compiles to machine
// code in anonymous memory, named only by the perf map V8 writes when node
// runs with --perf-basic-prof (/tmp/perf-PID.map).
//
// Usage: node --perf-basic-prof --interpreted-frames-native-stack jit.js
//            [ALARM_SECONDS]
//
// Expected stack, innermost first (names as V8 writes them in the perf
// map; the prefix depends on the node version and on the tier, e.g.
// "JS:*hotLoop /path/jit.js:9:17" or "LazyCompile:*hotLoop /path/jit.js:9"):
//   hotLoop   (optimized code, JIT)
//   outer     (interpreted: a trampoline copy, with
//             --interpreted-frames-native-stack)
//   ... node's module loader, V8's entry builtins, node::Start, main
'use strict';

function hotLoop(n) {
	let x = 1;
	for (let i = 0; i < n; i++)
		x = (x * 1103515245 + 12345) & 0x7fffffff;
	return x;
}

// There is no alarm(2) here: the loop checks its own deadline, so that a
// hung test never leaves node running.
function outer(deadline) {
	let s = 0;
	for (;;) {
		s ^= hotLoop(1000000);
		if (Date.now() > deadline)
			process.exit(s === -1 ? 1 : 0);
	}
}

const seconds = process.argv.length > 2 ? Number(process.argv[2]) : 300;
if (!(seconds > 0)) {
	console.error('bad alarm seconds: ' + process.argv[2]);
	process.exit(64);
}
console.log('ready ' + process.pid);
outer(Date.now() + seconds * 1000);
