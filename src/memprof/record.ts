// `hotpath mprof run`: runs a command and samples the resident memory of its whole process tree
// from /proc, the way memory_profiler's mprof does with --include-children.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { MPROFILE_FORMAT, MPROFILE_VERSION, type Mprofile, type MprofSample } from './mprofile.js';

/** The command could not be started; `exitCode` follows the shell (127 not found, 126 not runnable). */
export class SpawnError extends Error {
  override name = 'SpawnError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return ''; // the process exited between listing and reading
  }
}

// Linux lists each thread's child processes in /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN,
// on in common kernels): reading the tree's own threads costs far less than scanning every process.
const childrenFiles = fs.existsSync(`/proc/self/task/${process.pid}/children`);

function childrenFromTasks(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return []; // exited meanwhile
  }
  return tasks.flatMap((tid) =>
    readOrEmpty(`/proc/${pid}/task/${tid}/children`).split(' ').filter(Boolean).map(Number),
  );
}

// Otherwise, parent → children over every process: one pass over /proc/<pid>/stat, whose 4th field
// is the parent pid (counted after the command name, which may itself hold spaces and parentheses).
function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readOrEmpty(`/proc/${entry}/stat`);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(ppid)) continue;
    const list = children.get(ppid);
    if (list) list.push(Number(entry));
    else children.set(ppid, [Number(entry)]);
  }
  return children;
}

function childLookup(): (pid: number) => number[] {
  if (childrenFiles) return childrenFromTasks;
  const byParent = childrenByParent();
  return (pid) => byParent.get(pid) ?? [];
}

/** RSS in bytes of `root` and all its descendants (a zombie, or a process gone meanwhile, adds 0). */
export function processTreeRss(root: number): { rss: number; processes: number } {
  const childrenOf = childLookup();
  let rss = 0;
  let processes = 0;
  const pending = [root];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readOrEmpty(`/proc/${pid}/status`));
    if (kb) {
      rss += Number(kb[1]) * 1024;
      processes++;
    }
    pending.push(...childrenOf(pid));
  }
  return { rss, processes };
}

/** Runs `command` with inherited stdio, sampling its tree every `intervalMs` until it exits. */
export function recordCommand(command: string[], intervalMs: number): Promise<Mprofile> {
  if (!fs.existsSync('/proc/self/status')) {
    return Promise.reject(
      new Error('mprof run reads process memory from /proc, which this system does not have (Linux only)'),
    );
  }
  return new Promise((resolve, reject) => {
    const startedAt = new Date().toISOString();
    const child = spawn(command[0], command.slice(1), { stdio: 'inherit' });
    const t0 = performance.now();
    const samples: MprofSample[] = [];
    const sample = () => {
      const tree = processTreeRss(child.pid!);
      // After the command exits and before it is reaped it is a zombie with no memory: not a sample.
      if (tree.processes > 0) samples.push({ t: (performance.now() - t0) / 1000, ...tree });
    };
    let timer: NodeJS.Timeout | undefined;
    // Ctrl-C reaches the child through the terminal's process group: stay alive to write its
    // profile. A SIGTERM sent to hotpath alone is passed on.
    const ignoreInterrupt = () => {};
    const forwardTerminate = () => child.kill('SIGTERM');
    const cleanUp = () => {
      clearInterval(timer);
      process.off('SIGINT', ignoreInterrupt);
      process.off('SIGTERM', forwardTerminate);
    };
    process.on('SIGINT', ignoreInterrupt);
    process.on('SIGTERM', forwardTerminate);

    child.once('spawn', () => {
      sample();
      timer = setInterval(sample, intervalMs);
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      cleanUp();
      const name = JSON.stringify(command[0]);
      if (error.code === 'ENOENT') reject(new SpawnError(`cannot run ${name}: command not found`, 127));
      else if (error.code === 'EACCES') reject(new SpawnError(`cannot run ${name}: permission denied`, 126));
      else reject(new SpawnError(`cannot run ${name}: ${error.message}`, 1));
    });
    child.once('exit', (exitCode, signal) => {
      cleanUp();
      resolve({
        format: MPROFILE_FORMAT,
        version: MPROFILE_VERSION,
        command,
        startedAt,
        intervalMs,
        exitCode,
        signal,
        samples,
      });
    });
  });
}
