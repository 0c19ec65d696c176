// app.js - profd's page (/ui/): targets and services, a profile fetched
// from profd and decoded here (gzip through DecompressionStream, protobuf
// by the small reader below), drawn as an interactive flame graph (root
// at the top), a differential one against an older profile, and with
// continuous mode a timeline of the recorded buckets. Talks to profd only.
//
// Test hook: /ui/?selftest=1&target=pid:N&mode=profile&seconds=2
//   &click=NAME&search=RE&hover=NAME&thread=NAME
//   [&base=URL&newer=URL: a differential graph]
//   [&spans=I-J,K-L: timeline buckets I..J, then K..L compared with them]
//   [&open=PATH: the profile at PATH of profd, e.g. a snapshot's file]
// loads the profile, clicks the frame NAME, searches RE, and writes what
// the page shows as JSON into <pre id="selftest"> (tests/e2e/t_ui.sh).
'use strict';

const $ = (id) => document.getElementById(id);
const ROW = 18; // px per frame row

const st = {
	prefix: '',      // "/pid/N" or "/service/NAME"
	prof: null,      // the decoded profile shown
	base: null,      // the older profile of a comparison, or null
	title: '',
	tree: null,      // the merged tree of prof (filtered)
	baseTree: null,
	zoom: null,      // the node shown full width
	vi: 0,           // value index
	ci: -1,          // count index (samples/count), -1 if none
	busy: false,
	buckets: [],
	spans: [],       // selected timeline spans [{i, j}]
};

// ---- protobuf ---------------------------------------------------------

class Reader {
	constructor(buf, p = 0, end = buf.length) {
		this.b = buf; this.p = p; this.end = end;
	}
	more() { return this.p < this.end; }
	varint() {
		let r = 0, m = 1, b;
		do {
			if (this.p >= this.end) throw new Error('truncated varint');
			b = this.b[this.p++];
			r += (b & 0x7f) * m;
			m *= 128;
		} while (b & 0x80);
		// an int64 below zero comes as ten bytes of two's complement
		return r >= 2 ** 63 ? r - 2 ** 64 : r;
	}
	bytes() {
		const n = this.varint(), s = this.p;
		if (s + n > this.end) throw new Error('truncated field');
		this.p += n;
		return [s, s + n];
	}
	skip(wire) {
		if (wire === 0) this.varint();
		else if (wire === 1) this.p += 8;
		else if (wire === 2) this.bytes();
		else if (wire === 5) this.p += 4;
		else throw new Error('unknown wire type ' + wire);
	}
	// each field of the message: fn(field, wire)
	fields(fn) {
		while (this.more()) {
			const k = this.varint();
			fn(Math.floor(k / 8), k & 7);
		}
	}
	sub() {
		const [s, e] = this.bytes();
		return new Reader(this.b, s, e);
	}
	valueType() {
		const vt = { type: 0, unit: 0 }, q = this.sub();
		q.fields((g, gw) => {
			if (g === 1) vt.type = q.varint(); else if (g === 2) vt.unit = q.varint(); else q.skip(gw);
		});
		return vt;
	}
	// a repeated integer, packed or not, appended to arr
	ints(wire, arr) {
		if (wire === 2) {
			const r = this.sub();
			while (r.more()) arr.push(r.varint());
		} else {
			arr.push(this.varint());
		}
	}
}

const utf8 = new TextDecoder('utf-8');

// The fields of profile.proto the page uses.
function decodeProfile(buf) {
	const r = new Reader(buf);
	const p = { types: [], samples: [], locs: new Map(), funcs: new Map(),
		strings: [], defaultType: 0, durationNs: 0, timeNs: 0, comments: [] };
	r.fields((f, w) => {
		if (f === 1 && w === 2) {
			p.types.push(r.valueType());
		} else if (f === 2 && w === 2) {
			const s = { locs: [], values: [], labels: [] }, q = r.sub();
			q.fields((g, gw) => {
				if (g === 1) q.ints(gw, s.locs);
				else if (g === 2) q.ints(gw, s.values);
				else if (g === 3 && gw === 2) {
					const l = { key: 0, str: 0, num: 0 }, lq = q.sub();
					lq.fields((h, hw) => {
						if (h === 1) l.key = lq.varint(); else if (h === 2) l.str = lq.varint();
						else if (h === 3) l.num = lq.varint(); else lq.skip(hw);
					});
					s.labels.push(l);
				} else q.skip(gw);
			});
			p.samples.push(s);
		} else if (f === 4 && w === 2) {
			const l = { id: 0, addr: 0, lines: [] }, q = r.sub();
			q.fields((g, gw) => {
				if (g === 1) l.id = q.varint();
				else if (g === 3) l.addr = q.varint();
				else if (g === 4 && gw === 2) {
					const ln = { fn: 0, line: 0 }, lq = q.sub();
					lq.fields((h, hw) => {
						if (h === 1) ln.fn = lq.varint(); else if (h === 2) ln.line = lq.varint(); else lq.skip(hw);
					});
					l.lines.push(ln);
				} else q.skip(gw);
			});
			p.locs.set(l.id, l);
		} else if (f === 5 && w === 2) {
			const fn = { id: 0, name: 0, file: 0 }, q = r.sub();
			q.fields((g, gw) => {
				if (g === 1) fn.id = q.varint(); else if (g === 2) fn.name = q.varint();
				else if (g === 4) fn.file = q.varint(); else q.skip(gw);
			});
			p.funcs.set(fn.id, fn);
		} else if (f === 6 && w === 2) {
			const [s, e] = r.bytes();
			p.strings.push(utf8.decode(buf.subarray(s, e)));
		} else if (f === 9 && w === 0) p.timeNs = r.varint();
		else if (f === 10 && w === 0) p.durationNs = r.varint();
		else if (f === 13) r.ints(w, p.comments);
		else if (f === 14 && w === 0) p.defaultType = r.varint();
		else r.skip(w);
	});
	return p;
}

async function gunzip(buf) {
	if (buf.length < 2 || buf[0] !== 0x1f || buf[1] !== 0x8b) return buf;
	const ds = new Blob([buf]).stream().pipeThrough(new DecompressionStream('gzip'));
	return new Uint8Array(await new Response(ds).arrayBuffer());
}

async function fetchProfile(url, signal) {
	const resp = await fetch(url, { signal, cache: 'no-store' });
	const body = new Uint8Array(await resp.arrayBuffer());
	if (!resp.ok) throw new Error(`${resp.status}: ${utf8.decode(body).trim()}`);
	return decodeProfile(await gunzip(body));
}

// ---- the tree -----------------------------------------------------------

const str = (p, i) => (i > 0 && i < p.strings.length ? p.strings[i] : '');

function valueIndex(p) {
	if (p.defaultType) {
		const i = p.types.findIndex((t) => t.type === p.defaultType);
		if (i >= 0) return i;
	}
	return p.types.length - 1;
}

function labelOf(p, s, key) {
	for (const l of s.labels) if (str(p, l.key) === key) return l.str ? str(p, l.str) : String(l.num);
	return null;
}

function newNode(name, file, parent) {
	return { name, file, parent, depth: parent ? parent.depth + 1 : 0, total: 0, self: 0,
		count: 0, kids: new Map(), lines: new Map(), base: 0 };
}

// Merge the samples that pass the filter into a tree: root "all", then
// each stack from its outermost frame (inline frames expanded).
function buildTree(p, vi, ci, filt) {
	const root = newNode('all', '', null);
	for (const s of p.samples) {
		const v = s.values[vi] || 0;
		if (v <= 0) continue;
		if (filt.thread && labelOf(p, s, 'thread') !== filt.thread) continue;
		if (filt.state && labelOf(p, s, 'state') !== filt.state) continue;
		const c = ci >= 0 ? s.values[ci] || 0 : 0;
		root.total += v; root.count += c;
		let n = root;
		for (let i = s.locs.length - 1; i >= 0; i--) {
			const loc = p.locs.get(s.locs[i]);
			if (!loc) continue;
			const lines = loc.lines.length ? loc.lines : [null];
			for (let j = lines.length - 1; j >= 0; j--) {
				const ln = lines[j], fn = ln ? p.funcs.get(ln.fn) : null;
				const name = (fn && str(p, fn.name)) || '0x' + loc.addr.toString(16);
				let k = n.kids.get(name);
				if (!k) { k = newNode(name, fn ? str(p, fn.file) : '', n); n.kids.set(name, k); }
				k.total += v; k.count += c;
				if (ln && ln.line) k.lines.set(ln.line, (k.lines.get(ln.line) || 0) + v);
				n = k;
			}
		}
		n.self += v;
	}
	return root;
}

// For a comparison: each node of the newer tree gets the older tree's
// value at the same stack (0 where the older one never had it).
function annotateBase(n, b) {
	n.base = b ? b.total : 0;
	for (const [name, k] of n.kids) annotateBase(k, b ? b.kids.get(name) : null);
}

function pathOf(n) {
	const a = [];
	for (; n && n.parent; n = n.parent) a.unshift(n.name);
	return a.join(';');
}

// ---- formatting -----------------------------------------------------------

function fmtValue(v, unit) {
	if (unit === 'nanoseconds') return v >= 1e9 ? (v / 1e9).toFixed(2) + ' s' : (v / 1e6).toFixed(1) + ' ms';
	if (unit === 'bytes') return v >= 1 << 20 ? (v / 1048576).toFixed(1) + ' MiB' : (v / 1024).toFixed(1) + ' KiB';
	return v + ' ' + unit;
}
const pct = (a, b) => (b > 0 ? (100 * a / b) : 0);

function hashColor(name) {
	let h = 2166136261;
	for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
	h >>>= 0;
	return `rgb(${205 + (h % 50)},${(h >>> 8) % 180 + 40},${(h >>> 16) % 55})`;
}

// ---- drawing ---------------------------------------------------------------

function frameColor(n) {
	if (!st.base || !st.baseTree) return hashColor(n.name);
	const d = pct(n.total, st.tree.total) - pct(n.base, st.baseTree.total);
	const a = Math.min(1, Math.abs(d) / 10); // 10 points: full colour
	const lo = Math.round(235 - 155 * a);
	return d > 0 ? `rgb(235,${lo},${lo})` : d < 0 ? `rgb(${lo},${lo + Math.round(40 * a)},235)` : 'rgb(225,225,225)';
}

// Draw the tree: the zoomed node full width, its ancestors above it in
// full width, and its subtree below, frames narrower than a pixel left
// out.
function draw() {
	const box = $('flame');
	box.textContent = '';
	const t = st.tree;
	if (!t || t.total <= 0) {
		box.textContent = st.prof ? 'No samples match.' : 'Choose a target and a profile, then press Profile.';
		box.style.height = '40px';
		return;
	}
	const W = box.clientWidth || 1000, z = st.zoom || t;
	const scale = W / z.total;
	let maxDepth = 0;
	const frag = document.createDocumentFragment();
	const put = (n, x, w, anc) => {
		const el = document.createElement('div');
		el.className = anc ? 'fr anc' : 'fr';
		el.style.left = x + 'px';
		el.style.width = Math.max(w, 1) + 'px';
		el.style.top = n.depth * ROW + 'px';
		el.style.background = frameColor(n);
		el.textContent = n.name;
		el.dataset.depth = n.depth;
		el.node = n;
		frag.appendChild(el);
		if (n.depth > maxDepth) maxDepth = n.depth;
	};
	for (let a = z.parent; a; a = a.parent) put(a, 0, W, true);
	const walk = (n, x) => {
		const w = n.total * scale;
		if (w < 1) return;
		put(n, x, w, false);
		let cx = x;
		const kids = [...n.kids.values()].sort((p, q) => (p.name < q.name ? -1 : p.name > q.name ? 1 : 0));
		for (const k of kids) { walk(k, cx); cx += k.total * scale; }
	};
	walk(z, 0);
	box.appendChild(frag);
	box.style.height = (maxDepth + 1) * ROW + 'px';
	search();
}

function unitOf(p) {
	const t = p.types[st.vi];
	return t ? str(p, t.unit) : '';
}

function tooltip(ev) {
	const tip = $('tooltip'), el = ev.target;
	if (!el.node) { tip.hidden = true; return; }
	const n = el.node, unit = unitOf(st.prof);
	let top = '', topv = -1;
	for (const [l, v] of n.lines) if (v > topv) { top = l; topv = v; }
	const lines = [n.name,
		`${fmtValue(n.total, unit)}${st.ci >= 0 ? `, ${n.count} samples` : ''}: ${pct(n.total, st.tree.total).toFixed(2)}% of all` +
			(st.zoom && st.zoom !== st.tree ? `, ${pct(n.total, st.zoom.total).toFixed(2)}% of the zoomed frame` : ''),
		`self ${fmtValue(n.self, unit)} (${pct(n.self, st.tree.total).toFixed(2)}%)`];
	if (n.file || top) lines.push(`${n.file || '?'}${top ? ':' + top : ''}`);
	if (st.base && st.baseTree) {
		const a = pct(n.base, st.baseTree.total), b = pct(n.total, st.tree.total);
		lines.push(`share ${a.toFixed(2)}% (older) -> ${b.toFixed(2)}% (newer): ${b - a >= 0 ? '+' : ''}${(b - a).toFixed(2)} points`);
	}
	tip.textContent = lines.join('\n');
	tip.hidden = false;
	tip.style.left = Math.min(ev.clientX + 12, window.innerWidth - 320) + 'px';
	tip.style.top = ev.clientY + 14 + 'px';
}

function zoomTo(n) {
	st.zoom = n && n !== st.tree ? n : null;
	draw();
}

// Highlight the frames whose name matches; the matched share counts each
// matching stack once (a match under a matching frame is not added again).
function search() {
	const q = $('search').value;
	let re = null;
	if (q) {
		try { re = new RegExp(q, 'i'); } catch (e) { re = new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i'); }
	}
	let nm = 0;
	for (const el of $('flame').children) {
		const hit = !!(re && el.node && re.test(el.node.name));
		el.classList.toggle('match', hit);
		if (hit) nm++;
	}
	if (!re || !st.tree) { $('matched').textContent = ''; return { frames: 0, share: 0 }; }
	let sum = 0;
	const walk = (n) => {
		if (n.parent && re.test(n.name)) { sum += n.total; return; }
		for (const k of n.kids.values()) walk(k);
	};
	walk(st.tree);
	const share = pct(sum, st.tree.total);
	$('matched').textContent = `matched: ${share.toFixed(1)}% of all (${nm} frame${nm === 1 ? '' : 's'} shown)`;
	return { frames: nm, share };
}

// ---- filters -------------------------------------------------------------

function fillFilter(sel, key) {
	const keep = sel.value, vals = new Set();
	for (const s of st.prof.samples) { const v = labelOf(st.prof, s, key); if (v !== null) vals.add(v); }
	sel.textContent = '';
	const all = document.createElement('option');
	all.value = ''; all.textContent = vals.size ? 'all' : '(none)';
	sel.appendChild(all);
	for (const v of [...vals].sort()) {
		const o = document.createElement('option');
		o.value = o.textContent = v;
		sel.appendChild(o);
	}
	sel.value = vals.has(keep) ? keep : '';
	sel.disabled = !vals.size;
}

function rebuild() {
	const filt = { thread: $('f-thread').value, state: $('f-state').value };
	st.tree = buildTree(st.prof, st.vi, st.ci, filt);
	st.baseTree = null;
	if (st.base) {
		const t = str(st.prof, st.prof.types[st.vi].type);
		const bvi = st.base.types.findIndex((x) => str(st.base, x.type) === t);
		if (bvi >= 0) {
			const bci = st.base.types.findIndex((x) => str(st.base, x.type) === 'samples');
			st.baseTree = buildTree(st.base, bvi, bci, filt);
			annotateBase(st.tree, st.baseTree);
		}
	}
	st.zoom = null;
	$('legend').hidden = !st.baseTree;
	draw();
}

function show(p, title) {
	st.prof = p;
	st.vi = valueIndex(p);
	st.ci = p.types.findIndex((t) => str(p, t.type) === 'samples');
	if (st.ci === st.vi) st.ci = -1;
	fillFilter($('f-thread'), 'thread');
	fillFilter($('f-state'), 'state');
	rebuild();
	const t = p.types[st.vi];
	st.title = title;
	$('title').textContent = `${title}: ${t ? str(p, t.type) + ' ' + fmtValue(st.tree.total, str(p, t.unit)) : ''}, ` +
		`${p.samples.length} stacks` + (st.baseTree ? ` (against the older profile: ${fmtValue(st.baseTree.total, str(p, t.unit))})` : '');
	$('set-base').disabled = false;
}

// ---- status and countdown -----------------------------------------------------

let timer = null;
function status(text, cls) {
	$('status').textContent = text;
	$('status').className = cls || '';
}

function countdown(what, secs) {
	const t0 = Date.now();
	$('progress').hidden = false;
	const tick = () => {
		const el = (Date.now() - t0) / 1000, left = Math.max(0, Math.ceil(secs - el));
		$('progress-bar').style.width = Math.min(100, 100 * el / secs) + '%';
		status(left > 0 ? `Collecting ${what} for ${secs} s: ${left} s left` : `Collecting ${what}: finishing, symbolizing`);
	};
	tick();
	timer = setInterval(tick, 250);
}

function stopCountdown() {
	clearInterval(timer);
	timer = null;
	$('progress').hidden = true;
}

// ---- targets and services ----------------------------------------------------

async function getJSON(url) {
	const r = await fetch(url, { cache: 'no-store' });
	if (!r.ok) throw new Error(`${url}: ${r.status} ${(await r.text()).trim()}`);
	return r.json();
}

function cell(tr, text, cls) {
	const td = document.createElement('td');
	td.textContent = text;
	if (cls) td.className = cls;
	tr.appendChild(td);
	return td;
}

async function loadLists() {
	const sel = $('target'), keep = sel.value;
	const [targets, services] = await Promise.all([getJSON('/targets'), getJSON('/services').catch(() => [])]);
	sel.textContent = '';
	const tb = $('targets').tBodies[0];
	tb.textContent = '';
	for (const t of targets) {
		const tr = document.createElement('tr');
		cell(tr, t.pid); cell(tr, t.cmdline || t.comm, 'cmd'); cell(tr, t.origin + (t.match ? ' ' + t.match : ''));
		cell(tr, t.since); cell(tr, t.alive ? '' : 'exited');
		tr.dataset.ref = 'pid:' + t.pid;
		tr.addEventListener('click', () => { sel.value = tr.dataset.ref; chooseTarget(); });
		tb.appendChild(tr);
		const o = document.createElement('option');
		o.value = 'pid:' + t.pid;
		o.textContent = `${t.pid} ${t.comm}`;
		sel.appendChild(o);
	}
	const sb = $('services').tBodies[0];
	sb.textContent = '';
	$('no-services').hidden = services.length > 0;
	$('services').hidden = services.length === 0;
	for (const s of services) {
		const tr = document.createElement('tr');
		cell(tr, s.service); cell(tr, (s.pids || []).join(' ') || (s.up ? '' : 'down'));
		cell(tr, s.restarts); cell(tr, s.oom_kills);
		cell(tr, (s.exits || []).slice(-3).map((x) => `${x.pid} ${x.cause} at ${x.end}`).join('; '));
		tr.dataset.ref = 'svc:' + s.service;
		tr.addEventListener('click', () => { sel.value = tr.dataset.ref; chooseTarget(); });
		sb.appendChild(tr);
		const o = document.createElement('option');
		o.value = 'svc:' + s.service;
		o.textContent = `service ${s.service}`;
		sel.appendChild(o);
	}
	if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
	loadSnapshots().catch(() => { $('snapshots-pane').hidden = true; });
}

// Snapshots written by triggers (--output-dir): a profile among their
// files opens as a flame graph here, the other files as they are.
async function loadSnapshots() {
	const snaps = await getJSON('/snapshots/');
	const tb = $('snapshots').tBodies[0];
	tb.textContent = '';
	$('snapshots-pane').hidden = !snaps.length;
	for (const s of snaps) {
		const tr = document.createElement('tr');
		cell(tr, s.name); cell(tr, s.time); cell(tr, s.trigger);
		const td = cell(tr, '');
		for (const f of s.files || []) {
			const url = `/snapshots/${encodeURIComponent(s.name)}/${encodeURIComponent(f.name)}`;
			const a = document.createElement('a');
			a.href = url;
			a.textContent = f.name;
			if (f.name.endsWith('.pb.gz')) {
				a.addEventListener('click', (ev) => {
					ev.preventDefault();
					load(url, `snapshot ${s.name}: ${f.name}`, 0).catch(() => null);
				});
			}
			td.appendChild(a);
			td.appendChild(document.createTextNode(' '));
		}
		tb.appendChild(tr);
	}
}

function prefixOf(ref) {
	if (ref.startsWith('pid:')) return '/pid/' + ref.slice(4);
	if (ref.startsWith('svc:')) return '/service/' + encodeURIComponent(ref.slice(4));
	return '';
}

function chooseTarget() {
	const ref = $('target').value;
	st.prefix = prefixOf(ref);
	for (const tr of document.querySelectorAll('#targets tr, #services tr')) tr.classList.toggle('chosen', tr.dataset.ref === ref);
	return loadTimeline();
}

// ---- profiles ------------------------------------------------------------------

const KIND_NAMES = { profile: 'CPU profile', wall: 'wall-clock profile', growth: 'memory growth profile' };

function profileURL(mode, secs) {
	if (mode.startsWith('history:')) return `${st.prefix}/debug/pprof/history?kind=${mode.slice(8)}&seconds=${secs}`;
	return `${st.prefix}/debug/pprof/${mode}?seconds=${secs}`;
}

let aborter = null;
async function load(url, title, secs) {
	if (aborter) aborter.abort();
	aborter = new AbortController();
	const a = aborter;
	if (secs) countdown(title, secs); else status(`Loading ${title}`);
	try {
		const p = await fetchProfile(url, a.signal);
		if (a !== aborter) return null;
		stopCountdown();
		show(p, title);
		status(`${title}: ${p.samples.length} stacks`);
		$('svg-link').href = url + (url.includes('?') ? '&' : '?') + 'format=svg';
		// a window's URL would start another window; a snapshot is a file
		$('svg-link').hidden = !url.includes('/debug/pprof/history');
		return p;
	} catch (e) {
		if (a === aborter) { stopCountdown(); status(`${title}: ${e.message}`, 'err'); }
		throw e;
	}
}

function go() {
	const mode = $('mode').value, secs = Math.max(1, parseInt($('seconds').value, 10) || 10);
	const live = !mode.startsWith('history:');
	const what = live ? KIND_NAMES[mode] : `recorded ${mode.slice(8)} history of the last ${secs} s`;
	return load(profileURL(mode, secs), what, live ? secs : 0).catch(() => null);
}

function setBase() {
	if (!st.prof) return;
	st.base = st.prof;
	$('clear-base').hidden = false;
	status('Kept as the older profile: the next one is drawn against it');
}

function clearBase() {
	st.base = null;
	$('clear-base').hidden = true;
	if (st.prof) rebuild();
}

// ---- timeline (continuous mode) -----------------------------------------------------

function bucketsOf(j) {
	return Array.isArray(j) ? j : (j && j.buckets) || [];
}

async function loadTimeline() {
	const pane = $('timeline-pane');
	let j = null;
	for (const url of [`${st.prefix}/history/buckets`, '/history/buckets', `${st.prefix}/debug/pprof/history/buckets`]) {
		try { j = await getJSON(url); break; } catch (e) { /* not there: no timeline */ }
	}
	st.buckets = bucketsOf(j);
	st.spans = [];
	pane.hidden = !st.buckets.length;
	if (st.buckets.length) drawTimeline();
}

// A bucket's start or end (K) as since=/until= take it: its RFC 3339
// text, else its Unix nanoseconds as seconds.
function bucketTime(b, k) {
	if (typeof b[k] === 'string') return b[k];
	for (const n of [`${k}_unix_ns`, `${k}_ns`, `${k}_unix_nanos`, 'unix_ns']) {
		const v = n === 'unix_ns' ? b[n] && b[n][k] : b[n];
		if (typeof v === 'number') return (v / 1e9).toFixed(3);
	}
	return '';
}

function drawTimeline() {
	const svg = $('timeline'), NS = 'http://www.w3.org/2000/svg', b = st.buckets;
	const W = svg.clientWidth || 1000, H = 120, bw = W / b.length;
	svg.textContent = '';
	const el = (tag, attrs) => {
		const e = document.createElementNS(NS, tag);
		for (const k in attrs) e.setAttribute(k, attrs[k]);
		svg.appendChild(e);
		return e;
	};
	const maxCpu = Math.max(1e-9, ...b.map((x) => x.cpu_seconds || 0));
	const rss = (x) => (x.rss_bytes && x.rss_bytes.max) || 0;
	const maxRss = Math.max(1, ...b.map(rss));
	b.forEach((x, i) => {
		const h = (H - 20) * (x.cpu_seconds || 0) / maxCpu;
		const r = el('rect', { x: i * bw + 1, y: H - h, width: Math.max(1, bw - 2), height: h, class: 'cpu' });
		const t = document.createElementNS(NS, 'title');
		t.textContent = `${bucketTime(x, 'start')} .. ${bucketTime(x, 'end')}\nCPU ${(x.cpu_seconds || 0).toFixed(2)} s, RSS max ${fmtValue(rss(x), 'bytes')}` +
			((x.triggers || []).length ? `\ntriggers: ${x.triggers.join(', ')}` : '');
		r.appendChild(t);
		if ((x.triggers || []).length) el('path', { d: `M${i * bw + bw / 2 - 5},2 h10 l-5,9 z`, class: 'trig' });
	});
	el('polyline', { class: 'rss', points: b.map((x, i) => `${i * bw + bw / 2},${H - (H - 20) * rss(x) / maxRss}`).join(' ') });
	st.spans.forEach((s, k) => el('rect', { x: s.i * bw, y: 0, width: (s.j - s.i + 1) * bw, height: H, class: k ? 'selB' : 'selA' }));
	$('tl-note').textContent = `${b.length} buckets, ${bucketTime(b[0], 'start')} .. ${bucketTime(b[b.length - 1], 'end')}`;
}

function spanURL(s, kind) {
	const b = st.buckets;
	const since = encodeURIComponent(bucketTime(b[s.i], 'start')), until = encodeURIComponent(bucketTime(b[s.j], 'end'));
	return `${st.prefix}/debug/pprof/history?kind=${kind}&since=${since}&until=${until}`;
}

// A span selected on the timeline: its flame graph, or with compare on
// and a span already chosen, the later span drawn against the earlier.
async function selectSpan(i, j) {
	const s = { i: Math.min(i, j), j: Math.max(i, j) };
	const kind = $('mode').value.startsWith('history:') ? $('mode').value.slice(8) : 'cpu';
	if ($('compare').checked && st.spans.length) {
		const prev = st.spans[0];
		const [older, newer] = prev.i <= s.i ? [prev, s] : [s, prev];
		st.spans = [prev, s];
		drawTimeline();
		try {
			st.base = await fetchProfile(spanURL(older, kind));
			$('clear-base').hidden = false;
			await load(spanURL(newer, kind), `recorded ${kind}, ${bucketTime(st.buckets[newer.i], 'start')} .. ${bucketTime(st.buckets[newer.j], 'end')}`, 0);
		} catch (e) { status(e.message, 'err'); }
		return;
	}
	st.spans = [s];
	drawTimeline();
	await load(spanURL(s, kind), `recorded ${kind}, ${bucketTime(st.buckets[s.i], 'start')} .. ${bucketTime(st.buckets[s.j], 'end')}`, 0).catch(() => null);
}

function timelineEvents() {
	const svg = $('timeline');
	let from = -1;
	const at = (ev) => {
		const r = svg.getBoundingClientRect();
		return Math.max(0, Math.min(st.buckets.length - 1, Math.floor((ev.clientX - r.left) / r.width * st.buckets.length)));
	};
	svg.addEventListener('mousedown', (ev) => { from = at(ev); });
	svg.addEventListener('mouseup', (ev) => { if (from >= 0) selectSpan(from, at(ev)); from = -1; });
}

// ---- self test --------------------------------------------------------------------

// What the flame graph shows, read back from the DOM: each frame with the
// path of frames above it (a frame's parent is the frame one row up whose
// extent holds it).
function domFrames() {
	const els = [...$('flame').children].filter((e) => e.node);
	const geo = els.map((e) => ({ e, d: +e.dataset.depth, l: parseFloat(e.style.left), w: parseFloat(e.style.width) }));
	const out = [];
	for (const g of geo) {
		const path = [g.e.textContent];
		let cur = g;
		for (;;) {
			const p = geo.find((q) => q.d === cur.d - 1 && q.l <= cur.l + 0.5 && q.l + q.w >= cur.l + cur.w - 0.5);
			if (!p || p.d === 0) break;
			path.unshift(p.e.textContent);
			cur = p;
		}
		const n = g.e.node;
		out.push({ name: g.e.textContent, depth: g.d, width: Math.round(g.w), path: path.join(';'),
			share: +pct(n.total, st.tree.total).toFixed(2), match: g.e.classList.contains('match'),
			delta: st.baseTree ? +(pct(n.total, st.tree.total) - pct(n.base, st.baseTree.total)).toFixed(2) : null });
	}
	return out;
}

async function selftest(q) {
	const out = { done: false };
	const pre = $('selftest');
	try {
		await loadLists();
		if (q.get('target')) $('target').value = q.get('target');
		await chooseTarget();
		if (q.get('spans')) {
			// timeline spans "I-J" (bucket indexes), a second one compared
			const sp = q.get('spans').split(',').map((x) => x.split('-').map(Number));
			if (!st.buckets.length) throw new Error('no timeline: /history/buckets gave nothing');
			out.buckets = st.buckets.length;
			await selectSpan(sp[0][0], sp[0][1]);
			if (sp[1]) {
				$('compare').checked = true;
				await selectSpan(sp[1][0], sp[1][1]);
			}
			if (!st.prof) throw new Error('no profile for the span');
		} else if (q.get('open')) {
			if (!q.get('open').startsWith('/')) throw new Error('open= is a path of profd');
			await load(q.get('open'), q.get('open'), 0);
		} else if (q.get('base') && q.get('newer')) {
			const u1 = q.get('base'), u2 = q.get('newer');
			if (!u1.startsWith('/') || !u2.startsWith('/')) throw new Error('base= and newer= are paths of profd');
			st.base = await fetchProfile(u1);
			await load(u2, 'newer', 0);
		} else {
			$('mode').value = q.get('mode') || 'profile';
			$('seconds').value = q.get('seconds') || '2';
			const m = $('mode').value;
			const pr = load(profileURL(m, $('seconds').value), KIND_NAMES[m] || m, +$('seconds').value);
			out.collecting = $('status').textContent; // while the window runs
			if (!await pr) throw new Error('no profile');
		}
		out.title = $('title').textContent;
		out.total = st.tree.total;
		out.frames = domFrames();
		if (q.get('click')) {
			const el = [...$('flame').children].find((e) => e.textContent === q.get('click') && !e.classList.contains('anc'));
			if (!el) throw new Error('no frame ' + q.get('click') + ' to click');
			el.dispatchEvent(new MouseEvent('click', { bubbles: true }));
			const z = [...$('flame').children].find((e) => e.textContent === q.get('click') && !e.classList.contains('anc'));
			out.zoom = { name: q.get('click'), width: z ? Math.round(parseFloat(z.style.width)) : 0,
				flame_width: $('flame').clientWidth, frames: domFrames().map((f) => f.name) };
			zoomTo(null);
		}
		if (q.get('hover')) {
			const el = [...$('flame').children].find((e) => e.textContent === q.get('hover'));
			if (!el) throw new Error('no frame ' + q.get('hover') + ' to hover');
			const r = el.getBoundingClientRect();
			el.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: r.left + 2, clientY: r.top + 2 }));
			out.tooltip = $('tooltip').hidden ? '' : $('tooltip').textContent;
		}
		if (q.get('thread')) {
			$('f-thread').value = q.get('thread');
			$('f-thread').dispatchEvent(new Event('change'));
			out.thread = { name: $('f-thread').value, total: st.tree.total, frames: domFrames().map((f) => f.name) };
			$('f-thread').value = '';
			$('f-thread').dispatchEvent(new Event('change'));
		}
		if (q.get('search')) {
			$('search').value = q.get('search');
			$('search').dispatchEvent(new Event('input'));
			out.search = { query: q.get('search'), text: $('matched').textContent,
				matched: domFrames().filter((f) => f.match).map((f) => f.name) };
		}
		out.done = true;
	} catch (e) {
		out.error = String(e && e.message || e);
	}
	pre.textContent = JSON.stringify(out);
	pre.hidden = false;
}

// ---- start ---------------------------------------------------------------------------

function start() {
	$('go').addEventListener('click', go);
	$('set-base').addEventListener('click', setBase);
	$('clear-base').addEventListener('click', clearBase);
	$('target').addEventListener('change', chooseTarget);
	$('search').addEventListener('input', search);
	$('f-thread').addEventListener('change', rebuild);
	$('f-state').addEventListener('change', rebuild);
	$('reset').addEventListener('click', () => zoomTo(null));
	$('flame').addEventListener('click', (ev) => { if (ev.target.node) zoomTo(ev.target.node); });
	$('flame').addEventListener('mousemove', tooltip);
	$('flame').addEventListener('mouseleave', () => { $('tooltip').hidden = true; });
	window.addEventListener('resize', () => { draw(); if (st.buckets.length) drawTimeline(); });
	timelineEvents();
	const q = new URLSearchParams(location.search);
	if (q.get('selftest')) { selftest(q); return; }
	loadLists().then(chooseTarget).catch((e) => status(e.message, 'err'));
}

start();
