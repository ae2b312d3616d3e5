// ssh targets of openGateway are checked part by part (issue 23, item 3): no user, host or port can reach the
// ssh client as an option, and the destination always follows `--`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openGateway } from 'hotpath';
import { parseSshTarget } from '../src/distributed/gateway.js';

describe('ssh targets', () => {
  it('never lets a part of the target become an ssh option', async () => {
    const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-ssh-')), 'pwned');
    const hostile = [
      `ssh://-oProxyCommand=touch%20${encodeURIComponent(marker)}@localhost`,
      `ssh://-oProxyCommand=touch ${marker}@localhost`,
      'ssh://-F/etc/passwd@localhost',
      'ssh://user@-oProxyCommand=id',
      'ssh://user@-host',
      'ssh://user@host:-p1',
      'ssh://user@host:0',
      'ssh://user@host:65536',
      'ssh://us er@host',
      'ssh://user@ho st',
      'ssh://user@host/path',
      'ssh://user@host?x=1',
      'ssh://user@host#frag',
      'ssh://a@b@host',
      'ssh://%2Doption@host',
      'ssh://user@[::1;id]',
      'ssh://',
      'ssh://user@',
      'ssh:host',
    ];
    for (const target of hostile) {
      expect(() => parseSshTarget(target), target).toThrow(RangeError);
      await expect(openGateway(target), target).rejects.toThrow(RangeError);
    }
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('accepts user names, host names, IPv4 and bracketed IPv6 literals and ports', () => {
    expect(parseSshTarget('ssh://deploy@build-01.example.com:2222')).toEqual({
      user: 'deploy',
      host: 'build-01.example.com',
      port: '2222',
    });
    expect(parseSshTarget('ssh://10.0.0.7')).toEqual({ user: undefined, host: '10.0.0.7', port: undefined });
    expect(parseSshTarget('ssh://svc.user_1@[fe80::1%eth0]:22/')).toEqual({
      user: 'svc.user_1',
      host: 'fe80::1%eth0',
      port: '22',
    });
    expect(parseSshTarget('ssh://node-a')).toEqual({ user: undefined, host: 'node-a', port: undefined });
  });
});
