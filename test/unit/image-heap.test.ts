import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { imageNodeOptions } from '../../bench/image-node-options';

const MIB = 1024 * 1024;

/** What a Node process started with `nodeOptions` as NODE_OPTIONS reports as its V8 heap limit, in MiB. */
function heapLimitMib(nodeOptions: string): number {
  const printed = execFileSync(process.execPath, ['-p', 'require("node:v8").getHeapStatistics().heap_size_limit'], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
    encoding: 'utf8',
  });
  return Number(printed) / MIB;
}

describe("the image's heap sizing (README, Memory)", () => {
  const options = imageNodeOptions(path.resolve(__dirname, '../..'));

  test('is accepted in NODE_OPTIONS and takes effect: the limit is the ceiling plus a young generation of 16 MB semi-spaces', () => {
    // V8's limit is the old-space ceiling plus three semi-space sizes (the young generation's two
    // semi-spaces and as much again for its large objects). Without the semi-space option Node 24 adds
    // 3 × 64 MB to the same ceiling, so this has teeth on 24 (what CI runs); Node 20 would pick 16 MB
    // under this ceiling by itself. An option NODE_OPTIONS refuses stops node, and the test with it.
    expect(heapLimitMib(options)).toBe(1024 + 3 * 16);
  });
});
