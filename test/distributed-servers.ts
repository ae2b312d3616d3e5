// Real servers for the distributed tests: a redis-server and an sshd on loopback ports, each in a
// temp dir, stopped by the returned function. Each starter resolves to a reason string instead
// where the binary is absent or cannot start here, so the suite skips with that reason.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const fixtures = path.join(__dirname, 'fixtures', 'distributed-tasks.mjs');

export interface Server {
  port: number;
  dir: string;
  stop(): Promise<void>;
}

export function findBinary(name: string, dirs: string[]): string | null {
  for (const dir of [...dirs, ...(process.env.PATH ?? '').split(':')]) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `command` and waits for `ready` in its output; rejects with the output if it exits first. */
function startAndWait(command: string, args: string[], ready: RegExp, timeoutMs = 15_000): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(command)} did not start within ${timeoutMs} ms: ${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(command)} exited with code ${code}: ${output.trim()}`));
    });
  });
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
}

/** A throwaway redis-server (no persistence) on a random loopback port, or why there is none. */
export async function startRedis(...extraArgs: string[]): Promise<Server | string> {
  return startRedisOnPort(await freePort(), ...extraArgs);
}

/** startRedis on a given port: a Redis restarted empty where the old one listened. */
export async function startRedisOnPort(port: number, ...extraArgs: string[]): Promise<Server | string> {
  const binary = findBinary('redis-server', ['/usr/bin', '/usr/local/bin']);
  if (!binary) return 'redis-server is not installed';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-redis-'));
  try {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...extraArgs,
    ];
    const child = await startAndWait(binary, args, /Ready to accept connections/);
    return { port, dir, stop: stopper(child, dir) };
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    return `redis-server could not start: ${(error as Error).message}`;
  }
}

export interface SshServer extends Server {
  user: string;
  identityFile: string;
  /** ssh client arguments that trust exactly this server's host key. */
  sshArgs: string[];
}

/** An sshd with generated host and client keys on a random loopback port, or why there is none. */
export async function startSshd(): Promise<SshServer | string> {
  const binary = findBinary('sshd', ['/usr/sbin', '/usr/local/sbin']);
  if (!binary) return 'sshd is not installed';
  if (!findBinary('ssh', ['/usr/bin'])) return 'the ssh client is not installed';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-sshd-'));
  const keygen = (name: string) =>
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, name)]);
  if (keygen('host_key').status !== 0 || keygen('client_key').status !== 0) return 'ssh-keygen failed';
  fs.copyFileSync(path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys'));
  const port = await freePort();
  const hostKey = fs.readFileSync(path.join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  fs.writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${dir}/host_key`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    `PidFile ${dir}/sshd.pid`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'LogLevel INFO',
  ];
  fs.writeFileSync(path.join(dir, 'sshd_config'), config.join('\n') + '\n');
  // sshd refuses to start without its privilege separation directory (absent on a fresh container).
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  try {
    const child = await startAndWait(binary, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], /Server listening/);
    return {
      port,
      dir,
      user: os.userInfo().username,
      identityFile: path.join(dir, 'client_key'),
      sshArgs: ['-o', `UserKnownHostsFile=${dir}/known_hosts`, '-o', 'StrictHostKeyChecking=yes'],
      stop: stopper(child, dir),
    };
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    return `sshd could not start: ${(error as Error).message}`;
  }
}
