// A multi-host test bed on one machine (issue 23): Linux network namespaces as hosts, joined by a bridge that
// lives in a namespace of its own, so every address exists only inside the bed. Hosts: `c` (the client that
// opens gateways and submits cluster jobs), `h1` and `h2` (an sshd each, and cluster workers), `r` (Redis).
// Processes are started inside a host with `ip netns exec`; a partition is a bridge port set down. The PID
// namespace is shared, so a test can SIGKILL any process of any host by pid. Needs root and iproute2: `bedOrWhy`
// says why not otherwise, and the tests skip with that reason.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const HOSTS = { c: '10.77.0.1', h1: '10.77.0.11', h2: '10.77.0.12', r: '10.77.0.20' } as const;
export type Host = keyof typeof HOSTS;

export interface Bed {
  /** Namespace name of a host. */
  ns(host: Host): string;
  /** Starts a process inside a host. */
  spawn(host: Host, command: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  /** Cuts a host off the bridge (true) or reconnects it (false). */
  partition(host: Host, cut: boolean): void;
  /** ssh material trusted by every host's sshd: identityFile and sshArgs for openGateway. */
  ssh: { identityFile: string; sshArgs: string[]; user: string };
  dir: string;
  /** Kills every process started in the bed and deletes the namespaces; safe to call twice. */
  teardown(): void;
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** Why the bed cannot be built here, or null. */
export function bedUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const tool of ['ip', 'sshd', 'ssh', 'ssh-keygen', 'redis-server']) {
    const found = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin'].some((d) =>
      fs.existsSync(path.join(d, tool)),
    );
    if (!found) return `${tool} is not installed`;
  }
  const probe = `hpprobe${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0) return `ip netns add failed: ${r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return null;
}

export async function buildBed(): Promise<Bed> {
  const tag = `hp${process.pid % 100000}`;
  const hub = `${tag}-hub`;
  const ns = (host: Host) => `${tag}-${host}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-bed-'));
  const children: ChildProcess[] = [];
  let torn = false;
  const teardown = () => {
    if (torn) return;
    torn = true;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // Daemons a scenario started itself (a restarted Redis) live on in their namespace: end every process there.
    for (const host of Object.keys(HOSTS) as Host[]) {
      const pids =
        spawnSync('ip', ['netns', 'pids', ns(host)], { encoding: 'utf8' })
          .stdout?.split(/\s+/)
          .filter(Boolean) ?? [];
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      spawnSync('ip', ['netns', 'del', ns(host)]);
    }
    spawnSync('ip', ['netns', 'del', hub]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    ip('netns', 'add', hub);
    ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', hub, 'link', 'set', 'br0', 'up');
    for (const [host, address] of Object.entries(HOSTS) as [Host, string][]) {
      ip('netns', 'add', ns(host));
      ip('-n', hub, 'link', 'add', `vb-${host}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(host));
      ip('-n', hub, 'link', 'set', `vb-${host}`, 'master', 'br0', 'up');
      ip('-n', ns(host), 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns(host), 'link', 'set', 'eth0', 'up');
      ip('-n', ns(host), 'link', 'set', 'lo', 'up');
    }
    // One client key and one host key, trusted by every sshd and by the client.
    const keygen = (name: string) =>
      spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, name)]);
    if (keygen('host_key').status !== 0 || keygen('client_key').status !== 0) throw new Error('ssh-keygen failed');
    fs.copyFileSync(path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys'));
    const hostKey = fs.readFileSync(path.join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    fs.writeFileSync(path.join(dir, 'known_hosts'), `${HOSTS.h1},${HOSTS.h2} ${hostKey}\n`);
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const bed: Bed = {
      ns,
      dir,
      ssh: {
        identityFile: path.join(dir, 'client_key'),
        sshArgs: ['-o', `UserKnownHostsFile=${dir}/known_hosts`, '-o', 'StrictHostKeyChecking=yes'],
        user: os.userInfo().username,
      },
      spawn(host, command, args, env) {
        const child = spawn('ip', ['netns', 'exec', ns(host), command, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, ...env },
        });
        children.push(child);
        return child;
      },
      partition(host, cut) {
        ip('-n', hub, 'link', 'set', `vb-${host}`, cut ? 'down' : 'up');
      },
      teardown,
    };
    for (const host of ['h1', 'h2'] as const) {
      const config = path.join(dir, `sshd_${host}`);
      fs.writeFileSync(
        config,
        [
          `ListenAddress ${HOSTS[host]}`,
          'Port 22',
          `HostKey ${dir}/host_key`,
          `AuthorizedKeysFile ${dir}/authorized_keys`,
          `PidFile ${dir}/sshd_${host}.pid`,
          'StrictModes no',
          'UsePAM no',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PermitRootLogin prohibit-password',
          // The host's name reaches task code: the bed's tasks log their side effects per host.
          `SetEnv HOTPATH_BED_HOST=${host}`,
        ].join('\n') + '\n',
      );
      await waitForOutput(
        bed.spawn(host, '/usr/sbin/sshd', ['-D', '-e', '-f', config]),
        /Server listening/,
        `sshd on ${host}`,
      );
    }
    return bed;
  } catch (error) {
    teardown();
    throw error;
  }
}

/** Resolves once the child prints `pattern` (stdout or stderr), rejects if it exits or 15 s pass first. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`${what}: not ready within ${timeoutMs} ms: ${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${signal ?? code}): ${output}`));
    });
  });
}
