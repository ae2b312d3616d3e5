import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelClosedError, GatewayError, openGateway, RemoteError, TimeoutError, type Gateway } from 'hotpath';
import { repoRoot, rng } from './helpers.js';
import { findBinary, fixtures, startSshd, type SshServer } from './distributed-servers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-gateway-'));
let marker = 0;
const freshMarker = () => path.join(tmp, `marker-${marker++}`);

describe('spawn gateway: calls', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await openGateway('spawn');
  });
  afterAll(async () => {
    await gw.close();
  });

  it('reports the remote process and runs exports with structured values', async () => {
    expect(gw.alive).toBe(true);
    expect(gw.info?.node).toBe(process.version);
    expect(gw.info?.pid).not.toBe(process.pid);
    expect(await gw.call(fixtures, 'square', 12)).toBe(144);
    const r = rng(1);
    const values = Float64Array.from({ length: 1000 }, () => r());
    const scaled = await gw.call<Float64Array>(fixtures, 'scale', values, 3);
    expect(scaled).toBeInstanceOf(Float64Array);
    expect(Array.from(scaled)).toEqual(Array.from(values, (v) => v * 3));
    const view = new Int16Array([1, 2, 3, 4, 5]).subarray(1, 3);
    expect(Array.from(await gw.call<Int16Array>(fixtures, 'scale', view, 2))).toEqual([4, 6]);
  });

  it('maps a TypeScript module path to its build output, as the Pool does', async () => {
    expect(await gw.call(path.join(repoRoot, 'src', 'distributed', 'example-tasks.ts'), 'countPrimes', 100)).toBe(25);
  });

  it('keeps remote console output off the protocol stream', async () => {
    expect(await gw.call(fixtures, 'noisy', 41)).toBe(42);
    expect(await gw.call(fixtures, 'square', 3)).toBe(9);
  });

  it('rejects with the remote error, its name and stack', async () => {
    const error = await gw.call(fixtures, 'fail', 'bad value').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).remoteName).toBe('RangeError');
    expect((error as RemoteError).message).toBe(`RangeError: bad value (on gateway ${gw.id})`);
    expect((error as RemoteError).remoteStack).toMatch(/at fail .*distributed-tasks\.mjs/);
    expect((error as RemoteError).stack).toMatch(/Remote stack:/);
  });

  it('names an unknown export or module from the remote side', async () => {
    await expect(gw.call(fixtures, 'nope')).rejects.toThrow(/has no exported function 'nope' \(functions: .*square/);
    await expect(gw.call(path.join(tmp, 'missing.mjs'), 'f')).rejects.toThrow(/cannot load module '.*missing\.mjs'/);
    await expect(gw.call('no-such-package-hotpath', 'f')).rejects.toThrow(RemoteError);
  });

  it('rejects an unserializable argument before sending, an unserializable result remotely', async () => {
    expect(() => gw.remoteExec(fixtures, 'square', () => 1)).toThrow(TypeError);
    expect(() => gw.remoteExec(fixtures, 'square', Symbol('s'))).toThrow(/remoteExec: value cannot be serialized/);
    await expect(gw.call(fixtures, 'returnsFunction')).rejects.toThrow(
      /TypeError: the result of returnsFunction\(\): value cannot be serialized/,
    );
    expect(await gw.call(fixtures, 'square', 5)).toBe(25);
  });

  it('validates module and export names', async () => {
    expect(() => gw.remoteExec(42 as unknown as string, 'f')).toThrow(
      /remoteExec: module must be a string, got number/,
    );
    expect(() => gw.remoteExec(fixtures, '')).toThrow(/remoteExec: exportName must not be empty/);
    await expect(gw.call(fixtures, undefined as unknown as string)).rejects.toThrow(TypeError);
  });
});

describe('spawn gateway: channels', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await openGateway('spawn');
  });
  afterAll(async () => {
    await gw.close();
  });

  it('exchanges values both ways in order', async () => {
    const channel = gw.remoteExec<number[] | Int32Array>(fixtures, 'doubler');
    const r = rng(2);
    const sent = Array.from({ length: 50 }, () => Array.from({ length: 5 }, () => Math.floor(r() * 100)));
    for (const values of sent) channel.send(values);
    channel.send(new Int32Array([7, -8]));
    for (const values of sent) expect(await channel.receive()).toEqual(values.map((v) => v * 2));
    expect(await channel.receive()).toEqual(new Int32Array([14, -16]));
    channel.close();
    expect(channel.closed).toBe(true);
    expect(() => channel.send(1)).toThrow(ChannelClosedError);
    await expect(channel.receive()).rejects.toThrow(ChannelClosedError);
  });

  it('iterates until the remote function returns', async () => {
    const received = [];
    for await (const v of gw.remoteExec<{ i: number; square: bigint; at: Date }>(fixtures, 'produce', 20))
      received.push(v);
    expect(received.map((v) => v.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(received[19].square).toBe(361n);
    expect(received[5].at).toEqual(new Date(5));
  });

  it('delivers values sent before a remote failure, then the error', async () => {
    const channel = gw.remoteExec(fixtures, 'failAfterSending');
    expect(await channel.receive()).toBe('first');
    await expect(channel.receive()).rejects.toThrow(/Error: broke after sending/);
  });

  it('times out a receive, and checks the timeout', async () => {
    const channel = gw.remoteExec(fixtures, 'doubler');
    await expect(channel.receive({ timeout: 20 })).rejects.toThrow(TimeoutError);
    expect(() => channel.receive({ timeout: -1 })).toThrow(RangeError);
    expect(() => channel.receive({ timeout: '5' as never })).toThrow(
      /channel.receive: timeout must be a number of milliseconds, got string/,
    );
    // Infinity waits (it used to fire after about 1 ms, issue 16 defect 14), as does 2^31 ms.
    const waiting = channel.receive({ timeout: Infinity });
    const long = channel.receive({ timeout: 2 ** 31 });
    await new Promise((r) => setTimeout(r, 30));
    channel.send([5]);
    channel.send([6]);
    expect([await waiting, await long]).toEqual([[10], [12]]);
    channel.send([1]);
    expect(await channel.receive({ timeout: 10_000 })).toEqual([2]);
    channel.close();
  });
});

describe('spawn gateway: issue 16 defects', () => {
  let gw: Gateway;
  beforeAll(async () => {
    // 2^31 ms used to fire after about 1 ms (defect 14).
    gw = await openGateway('spawn', { connectTimeout: 2 ** 31 });
  });
  afterAll(async () => {
    await gw.close();
  });

  it("a raw fs.writeSync(1, ...) cannot corrupt the protocol; it reaches 'output' (defect 6)", async () => {
    const output: string[] = [];
    gw.on('output', (chunk: Buffer) => output.push(chunk.toString()));
    expect(await gw.call(fixtures, 'rawStdout', 5)).toBe(15);
    expect(await gw.call(fixtures, 'square', 3)).toBe(9);
    for (let i = 0; i < 100 && !output.join('').includes('raw bytes on fd 1'); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(output.join('')).toContain('raw bytes on fd 1');
    expect(gw.alive).toBe(true);
    gw.removeAllListeners('output');
  });

  it('a syntax error in a remote module keeps its class name, SyntaxError (defect 11)', async () => {
    const broken = path.join(tmp, 'broken-syntax.mjs');
    fs.writeFileSync(broken, 'export function f( {\n');
    const error = (await gw.call(broken, 'f').catch((e: unknown) => e)) as RemoteError;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.remoteName).toBe('SyntaxError');
    expect(error.message).toMatch(/^SyntaxError: cannot load module/);
  });

  it('keeps a module per gateway process; reload(module) imports the changed file again (defect 12)', async () => {
    const versioned = path.join(tmp, 'versioned.mjs');
    fs.writeFileSync(versioned, 'export const version = () => 1;\n');
    expect(await gw.call(versioned, 'version')).toBe(1);
    fs.writeFileSync(versioned, 'export const version = () => 2;\n');
    expect(await gw.call(versioned, 'version')).toBe(1);
    gw.reload(versioned);
    expect(await gw.call(versioned, 'version')).toBe(2);
    const cjs = path.join(tmp, 'versioned.cjs');
    fs.writeFileSync(cjs, 'exports.version = () => "a";\n');
    expect(await gw.call(cjs, 'version')).toBe('a');
    fs.writeFileSync(cjs, 'exports.version = () => "b";\n');
    gw.reload(cjs);
    expect(await gw.call(cjs, 'version')).toBe('b');
    expect(() => gw.reload('' as never)).toThrow(RangeError);
  });
});

describe('gateway liveness', () => {
  it('detects a gateway whose process dies, and fails its channels', async () => {
    const gw = await openGateway('spawn');
    const dead = new Promise((resolve) => gw.once('dead', resolve));
    const error = await gw.call(fixtures, 'exitAlways').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as Error).message).toBe(`gateway ${gw.id}: exited with code 7`);
    expect(await dead).toBe(gw.error);
    expect(gw.alive).toBe(false);
    await expect(gw.call(fixtures, 'square', 2)).rejects.toThrow(GatewayError);
    await gw.close();
  });

  it('detects a hung gateway within the heartbeat timeout and kills it', async () => {
    const gw = await openGateway('spawn', { heartbeatInterval: 100, heartbeatTimeout: 1000 });
    const remotePid = gw.info?.pid as number;
    const error = await gw.call(fixtures, 'hangOnce', freshMarker(), 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as Error).message).toMatch(/hung: no heartbeat for \d+ ms/);
    await gw.close();
    expect(() => process.kill(remotePid, 0)).toThrow();
  });

  it('closes idempotently and rejects calls after close', async () => {
    const gw = await openGateway('spawn');
    const open = gw.remoteExec(fixtures, 'doubler');
    await gw.close();
    await gw.close();
    await expect(open.receive()).rejects.toThrow(/closed/);
    expect(() => gw.remoteExec(fixtures, 'square', 1)).toThrow(GatewayError);
  });
});

describe('openGateway: bad input and unreachable targets', () => {
  it('checks the target and options', async () => {
    await expect(openGateway(42 as unknown as string)).rejects.toThrow(
      /openGateway: target must be a string, got number/,
    );
    await expect(openGateway('ftp://host')).rejects.toThrow(
      /target must be 'spawn' or 'ssh:\/\/\[user@\]host\[:port\]'.*, got 'ftp:\/\/host'/,
    );
    await expect(openGateway('spawn', { heartbeatTimeout: 0 })).rejects.toThrow(RangeError);
    await expect(openGateway('spawn', { sshArgs: 'x' as unknown as string[] })).rejects.toThrow(TypeError);
    await expect(openGateway('spawn', null as unknown as object)).rejects.toThrow(TypeError);
    await expect(openGateway('spawn', { conectTimeout: 5 } as never)).rejects.toThrow(
      /openGateway: unknown option 'conectTimeout'/,
    );
  });

  it('refuses sshArgs that run local commands unless unsafeSshArgs is given (issue 16 security)', async () => {
    const refused = [
      ['-o', 'ProxyCommand=touch /tmp/hotpath-pwned'],
      ['-oLocalCommand=id'],
      ['-o', 'PermitLocalCommand yes'],
      ['-F', '/tmp/ssh_config'],
      ['-J', 'jump@host'],
      ['-o', 'KnownHostsCommand=/bin/sh'],
      ['-o', 'PKCS11Provider=/tmp/x.so'],
    ];
    for (const sshArgs of refused) {
      await expect(openGateway('ssh://nobody@127.0.0.1:1', { sshArgs })).rejects.toThrow(
        /openGateway: sshArgs .* is not allowed.*unsafeSshArgs: true/,
      );
    }
    await expect(
      openGateway('spawn', { sshArgs: ['-o', 'ProxyCommand=x'], unsafeSshArgs: 'yes' as never }),
    ).rejects.toThrow(TypeError);
    // Connection options pass (a 'spawn' gateway checks them and ignores them), and so does anything with
    // unsafeSshArgs.
    for (const options of [
      {
        sshArgs: [
          '-q',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-oStrictHostKeyChecking=no',
          '-o',
          'ServerAliveInterval 5',
        ],
      },
      { sshArgs: ['-o', 'ProxyCommand=nc %h %p'], unsafeSshArgs: true },
    ]) {
      const gw = await openGateway('spawn', options);
      await gw.close();
    }
  });

  it('names the target when the remote side cannot start', async () => {
    await expect(openGateway('spawn', { node: path.join(tmp, 'no-node') })).rejects.toThrow(
      /gateway spawn#\d+: cannot run '.*no-node'/,
    );
    const script = path.join(tmp, 'silent.js');
    fs.writeFileSync(script, 'setInterval(() => {}, 1000);');
    await expect(openGateway('spawn', { remoteScript: script, connectTimeout: 300 })).rejects.toThrow(
      /no answer within 300 ms/,
    );
    const crashing = path.join(tmp, 'crashing.js');
    fs.writeFileSync(crashing, 'console.error("remote setup failed"); process.exit(4);');
    await expect(openGateway('spawn', { remoteScript: crashing })).rejects.toThrow(
      /exited with code 4: remote setup failed/,
    );
  });

  it('fails fast on an unreachable ssh host, naming it', async (ctx) => {
    if (!findBinary('ssh', ['/usr/bin'])) {
      console.warn('skipping the unreachable-host test: the ssh client is not installed');
      return ctx.skip();
    }
    const started = Date.now();
    const error = await openGateway('ssh://nobody@127.0.0.1:1', { connectTimeout: 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as Error).message).toMatch(
      /^gateway ssh:\/\/nobody@127\.0\.0\.1:1#\d+: exited with code 255: .*127\.0\.0\.1/,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('ssh gateway', () => {
  let sshd: SshServer | string;
  beforeAll(async () => {
    sshd = await startSshd();
    if (typeof sshd === 'string') console.warn(`skipping ssh gateway tests: ${sshd}`);
  });
  afterAll(async () => {
    if (typeof sshd !== 'string') await sshd.stop();
  });

  it('runs calls and channels over ssh with the same protocol', async (ctx) => {
    if (typeof sshd === 'string') return ctx.skip();
    const { user, port, identityFile, sshArgs } = sshd;
    const gw = await openGateway(`ssh://${user}@127.0.0.1:${port}`, {
      identityFile,
      sshArgs,
      node: process.execPath,
      cwd: path.dirname(fixtures),
    });
    try {
      expect(gw.id).toMatch(new RegExp(`^ssh://${user}@127\\.0\\.0\\.1:${port}#\\d+$`));
      expect(gw.info?.pid).not.toBe(gw.pid);
      expect(await gw.call('./distributed-tasks.mjs', 'square', 9)).toBe(81);
      const channel = gw.remoteExec<Float32Array>('./distributed-tasks.mjs', 'doubler');
      channel.send(new Float32Array([1.5, 2.5]));
      expect(Array.from(await channel.receive())).toEqual([3, 5]);
      channel.close();
      await expect(gw.call('./distributed-tasks.mjs', 'fail', 'over ssh')).rejects.toThrow(/RangeError: over ssh/);
    } finally {
      await gw.close();
    }
  });

  it('rejects a key the server does not accept, naming the target', async (ctx) => {
    if (typeof sshd === 'string') return ctx.skip();
    const { port, sshArgs, dir } = sshd;
    const other = path.join(dir, 'host_key'); // a valid key, but not an authorized one
    await expect(openGateway(`ssh://root@127.0.0.1:${port}`, { identityFile: other, sshArgs })).rejects.toThrow(
      new RegExp(`gateway ssh://root@127\\.0\\.0\\.1:${port}#\\d+: exited with code 255: .*Permission denied`),
    );
  });
});
