// HOTPATH_OPENCL_DEVICE picks the default device by index, so `npm run device-check` can run every
// OpenCL test file against each device of a machine in turn; a bad value is a RangeError that lists
// the devices, never a silent fall back to another device.
import { spawnSync } from 'node:child_process';
import { describe as suite, expect, it } from 'vitest';
import { opencl } from 'hotpath';
import { repoRoot } from './helpers.js';

const skipReason = opencl.available() ? null : opencl.unavailableReason();
if (skipReason) console.warn(`device selection tests skipped: ${skipReason}`);

const script = `
  const h = require('hotpath');
  const out = {};
  try {
    const device = h.opencl.defaultDevice();
    out.index = device.index;
    out.contextDevice = h.opencl.createContext().device.index;
    h.opencl.evaluate('a * 2', { a: new Float32Array([1, 2]) }).then((r) => {
      out.result = Array.from(r);
      console.log(JSON.stringify(out));
    });
  } catch (e) {
    out.error = { name: e.name, message: e.message };
    console.log(JSON.stringify(out));
  }`;

function withDevice(value: string | undefined) {
  const env = { ...process.env, HOTPATH_OPENCL_DEVICE: value };
  if (value === undefined) delete env.HOTPATH_OPENCL_DEVICE;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: repoRoot, encoding: 'utf8', env });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

suite.skipIf(skipReason !== null)('HOTPATH_OPENCL_DEVICE', () => {
  it('selects each device by its index for defaultDevice, createContext and evaluate', () => {
    for (const device of opencl.devices()) {
      expect(withDevice(String(device.index))).toEqual({
        index: device.index,
        contextDevice: device.index,
        result: [2, 4],
      });
    }
  });

  it.each(['99', '-1', 'gpu', '1.5'])('rejects %s with a RangeError listing the devices', (value) => {
    const out = withDevice(value);
    expect(out.error.name).toBe('RangeError');
    expect(out.error.message).toContain(
      `HOTPATH_OPENCL_DEVICE must be a device index from 0 to ${opencl.devices().length - 1}, got '${value}'`,
    );
    expect(out.error.message).toContain(`0: ${opencl.devices()[0]}`);
  });

  it('an empty value means the usual default', () => {
    expect(withDevice('').index).toBe(withDevice(undefined).index);
  });
});
