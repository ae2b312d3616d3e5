// Which extra ssh client arguments a gateway opener may pass. Several ssh options run commands or
// load code on this machine (ProxyCommand, LocalCommand, KnownHostsCommand, PKCS11Provider, a -F
// config file holding any of them...), so sshArgs is an allow-list: a few harmless flags and `-o`
// options that only tune the connection. Anything else needs the opener's explicit `unsafeSshArgs`.
import { typeName } from '../core/validate.js';

/** Flags without a value that change nothing but verbosity, compression or address family. */
const SAFE_FLAGS = new Set(['-4', '-6', '-C', '-q', '-v', '-vv', '-vvv']);

/** `-o` options (lower-cased) that tune the connection and run nothing. */
const SAFE_OPTIONS = new Set(
  [
    'AddressFamily',
    'BatchMode',
    'CheckHostIP',
    'Ciphers',
    'Compression',
    'ConnectionAttempts',
    'ConnectTimeout',
    'GlobalKnownHostsFile',
    'HashKnownHosts',
    'HostKeyAlgorithms',
    'HostKeyAlias',
    'IdentitiesOnly',
    'IdentityFile',
    'IPQoS',
    'KexAlgorithms',
    'LogLevel',
    'MACs',
    'NumberOfPasswordPrompts',
    'PasswordAuthentication',
    'Port',
    'PreferredAuthentications',
    'PubkeyAcceptedAlgorithms',
    'PubkeyAcceptedKeyTypes',
    'RekeyLimit',
    'ServerAliveCountMax',
    'ServerAliveInterval',
    'StrictHostKeyChecking',
    'TCPKeepAlive',
    'UpdateHostKeys',
    'User',
    'UserKnownHostsFile',
    'VerifyHostKeyDNS',
  ].map((name) => name.toLowerCase()),
);

function optionName(setting: string): string {
  return setting.trim().split(/[=\s]/, 1)[0];
}

/**
 * Checks `sshArgs` against the allow-list; `unsafe` (the opener's `unsafeSshArgs: true`) lets any
 * string array through. Throws a TypeError for a non-array, a RangeError naming the first refused
 * argument.
 */
export function checkSshArgs(where: string, sshArgs: unknown, unsafe: boolean): string[] {
  if (!Array.isArray(sshArgs) || !sshArgs.every((a) => typeof a === 'string')) {
    throw new TypeError(`${where}: sshArgs must be an array of strings, got ${typeName(sshArgs)}`);
  }
  if (unsafe) return sshArgs;
  for (let i = 0; i < sshArgs.length; i++) {
    const arg = sshArgs[i];
    if (SAFE_FLAGS.has(arg)) continue;
    const setting = arg === '-o' ? sshArgs[++i] : arg.startsWith('-o') ? arg.slice(2) : undefined;
    if (setting === undefined) {
      throw new RangeError(
        `${where}: sshArgs '${arg}' is not allowed (only ${[...SAFE_FLAGS].join(' ')} and -o with a connection ` +
          'option; pass unsafeSshArgs: true to allow it)',
      );
    }
    const name = optionName(setting);
    if (!SAFE_OPTIONS.has(name.toLowerCase())) {
      throw new RangeError(
        `${where}: sshArgs option '${name}' is not allowed: it is not on the list of connection options that ` +
          'run nothing (pass unsafeSshArgs: true to allow it)',
      );
    }
  }
  return sshArgs;
}
