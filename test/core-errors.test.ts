// src/core/errors.ts and src/core/wire-error.ts: every hotpath error class sets `name` and a
// machine-readable `code` the same way, and an error survives the wire with name, message, stack, code.
import { describe, expect, it } from 'vitest';
import { AbortError, ChannelClosedError, GatewayError, InvalidStateError, RemoteError, TimeoutError } from 'hotpath';

describe('error classes', () => {
  it('name each class and carry a HOTPATH_* code', () => {
    const errors = [
      new AbortError(),
      new TimeoutError(),
      new InvalidStateError('x'),
      new GatewayError('spawn#1', 'died'),
      new ChannelClosedError('closed'),
      new RemoteError('gateway spawn#1', { name: 'TypeError', message: 'bad' }),
    ];
    expect(errors.map((e) => [e.name, e.code])).toEqual([
      ['AbortError', 'HOTPATH_ABORTED'],
      ['TimeoutError', 'HOTPATH_TIMEOUT'],
      ['InvalidStateError', 'HOTPATH_INVALID_STATE'],
      ['GatewayError', 'HOTPATH_GATEWAY'],
      ['ChannelClosedError', 'HOTPATH_CHANNEL_CLOSED'],
      ['RemoteError', 'HOTPATH_REMOTE'],
    ]);
    for (const error of errors) expect(Object.keys(error)).not.toContain('code');
  });

  it('RemoteError keeps the remote error code when there was one', () => {
    const error = new RemoteError('queue jobs', {
      name: 'Error',
      message: 'no file',
      code: 'ENOENT',
      stack: 'Error: no file',
    });
    expect([error.code, error.remoteName, error.message]).toEqual([
      'ENOENT',
      'Error',
      'Error: no file (on queue jobs)',
    ]);
    expect(error.stack).toContain('Remote stack:\nError: no file');
  });
});

describe('argument errors', () => {
  it('have the one message shape "<fn>: <arg> must be …, got …" through every check', async () => {
    const { describe: describeValues, Moments } = await import('hotpath');
    expect(() => describeValues([1, 2], { ddof: -1 })).toThrow(
      new RangeError('Moments.variance: ddof must be an integer >= 0, got -1'),
    );
    expect(() => describeValues([1, 'x' as never])).toThrow(
      new TypeError('describe: values[1] must be a number, got string'),
    );
    expect(() => describeValues([1], 'fast' as never)).toThrow(
      new TypeError('describe: options must be an object, got string'),
    );
    expect(() => new Moments({ nan: 'skip' } as never)).toThrow(
      new RangeError("Moments: nan must be one of 'propagate', 'omit', 'raise', got 'skip'"),
    );
  });
});
