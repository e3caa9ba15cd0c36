/**
 * What the benchmark reads from /proc: a server's process tree, its CPU time and memory,
 * how busy each core is, free memory and PIDs, and the machine's description.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function readText(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Fields of /proc/<pid>/stat after the command name (field 3 is index 0). */
function statFields(pid) {
  const text = readText(`/proc/${pid}/stat`);
  if (!text) return null;
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

const HAS_CHILDREN_FILE = existsSync(`/proc/${process.pid}/task/${process.pid}/children`);

/** Direct children of every process, from one scan of /proc (fallback when children files are missing). */
function childrenMap() {
  const map = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(name);
    if (!fields) continue;
    const ppid = Number(fields[1]);
    if (!map.has(ppid)) map.set(ppid, []);
    map.get(ppid).push(Number(name));
  }
  return map;
}

function childrenOf(pid) {
  const out = [];
  let tasks;
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    const text = readText(`/proc/${pid}/task/${tid}/children`);
    if (text) for (const c of text.trim().split(/\s+/)) if (c) out.push(Number(c));
  }
  return out;
}

/** The root pid and all its live descendants. */
export function treePids(rootPid) {
  if (!existsSync(`/proc/${rootPid}`)) return [];
  const map = HAS_CHILDREN_FILE ? null : childrenMap();
  const out = [];
  const stack = [rootPid];
  while (stack.length > 0 && out.length < 100_000) {
    const pid = stack.pop();
    out.push(pid);
    stack.push(...(map ? (map.get(pid) ?? []) : childrenOf(pid)));
  }
  return out;
}

/**
 * CPU seconds used by a process tree: user+system time of every live process plus the time of
 * descendants already reaped (accumulated in the root's cutime/cstime, as each parent waits).
 */
export function treeCpuSeconds(rootPid) {
  let ticks = 0;
  const pids = treePids(rootPid);
  for (const pid of pids) {
    const f = statFields(pid);
    if (!f) continue;
    ticks += Number(f[11]) + Number(f[12]); // utime, stime
    if (pid === rootPid) ticks += Number(f[13]) + Number(f[14]); // cutime, cstime
  }
  return { seconds: ticks / CLK_TCK, processes: pids.length };
}

/** Memory of a process tree in KiB: PSS (shared pages split between sharers) and RSS. */
export function treeMemoryKiB(rootPid) {
  let pss = 0;
  let rss = 0;
  const pids = treePids(rootPid);
  for (const pid of pids) {
    const text = readText(`/proc/${pid}/smaps_rollup`);
    if (!text) continue;
    pss += Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    rss += Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
  }
  return { pss, rss, processes: pids.length };
}

/** Busy and total jiffies per core, from /proc/stat. */
export function coreTimes() {
  const out = [];
  for (const line of (readText('/proc/stat') ?? '').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].split(/\s+/).map(Number);
    const idle = v[3] + (v[4] ?? 0); // idle + iowait
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // up to steal; guest is inside user
    out[Number(m[1])] = { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
  }
  return out;
}

/** Busy fraction of each core between two coreTimes() samples. */
export function coreBusy(before, after) {
  return after.map((a, i) => {
    const b = before[i] ?? { busy: 0, total: 0 };
    const total = a.total - b.total;
    return total > 0 ? (a.busy - b.busy) / total : 0;
  });
}

export function loadAverage() {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

export function memAvailableKiB() {
  const m = /^MemAvailable:\s+(\d+)/m.exec(readText('/proc/meminfo') ?? '');
  return m ? Number(m[1]) : Infinity;
}

/** PIDs still available before kernel.pid_max is reached (approximate: counts processes and threads). */
export function freePids() {
  const pidMax = Number(readText('/proc/sys/kernel/pid_max') ?? 32768);
  const threads = Number(/^\S+ \S+ \S+ \d+\/(\d+)/.exec(readText('/proc/loadavg') ?? '')?.[1] ?? 0);
  return pidMax - threads;
}

/** Soft and hard RLIMIT_NOFILE of this process. */
export function openFileLimit() {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readText('/proc/self/limits') ?? '');
  const n = (s) => (s === 'unlimited' ? Infinity : Number(s));
  return m ? { soft: n(m[1]), hard: n(m[2]) } : { soft: 1024, hard: 1024 };
}

export function machineInfo() {
  const cpuinfo = readText('/proc/cpuinfo') ?? '';
  return {
    nproc: os.cpus().length,
    model: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}
