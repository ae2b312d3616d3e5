// Snapshot of the public surface: every runtime export (the same through require() and import) and
// every name dist/index.d.ts declares. A refactor that drops or renames one fails here; a change
// to the public API updates these lists on purpose (and CHANGELOG.md says why).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.js';

const runtimeExports = [
  'AbortError',
  'BrokenPoolError',
  'CONSTANTS',
  'Channel',
  'ChannelClosedError',
  'ClusterExecutor',
  'CountMinSketch',
  'ExpressionError',
  'FUNCTIONS',
  'FileStore',
  'Future',
  'Gateway',
  'GatewayError',
  'Group',
  'InvalidStateError',
  'LostJobError',
  'MemoryStore',
  'Moments',
  'NATIVE_MIN_LENGTH',
  'Pool',
  'PoolFuture',
  'Program',
  'REDUCTIONS',
  'RedisStore',
  'RemoteError',
  'ResultStream',
  'Semaphore',
  'TimeoutError',
  'TopK',
  'argumentsKey',
  'asCompleted',
  'backend',
  'compile',
  'createCachedFetch',
  'describe',
  'describeAsync',
  'evaluate',
  'evaluateAsync',
  'evaluateMany',
  'gather',
  'getNumThreads',
  'mapAsync',
  'memoize',
  'nativeLoadError',
  'nativeMemory',
  'nativePath',
  'openGateway',
  'opencl',
  'parallel',
  'parseExpression',
  'profileMemory',
  'reEvaluate',
  'setNumThreads',
  'startClusterWorker',
  'transfer',
  'vectorize',
  'wait',
  'withTimeout',
  'xxhash64',
];
const namespaceExports = {
  parallel: ['close', 'describe', 'evaluate'],
  opencl: [
    'Buffer',
    'BuildError',
    'Context',
    'Device',
    'ElementwiseKernel',
    'Kernel',
    'Platform',
    'Program',
    'ReductionKernel',
    'available',
    'createContext',
    'defaultDevice',
    'devices',
    'evaluate',
    'loadPath',
    'platforms',
    'unavailableReason',
  ],
};
/** Names only the type declarations have (interfaces, type aliases). */
const typeOnlyExports = [
  'AllocationSite',
  'AsCompletedOptions',
  'AsyncOptions',
  'AtomicsMode',
  'Backend',
  'Backoff',
  'BinaryOperator',
  'CacheEntry',
  'CacheExplanation',
  'CacheInfo',
  'CacheParameters',
  'CacheState',
  'CacheStats',
  'CacheStore',
  'CachedEntryInfo',
  'CachedFetch',
  'CachedFetchOptions',
  'CachedResponse',
  'CloseOptions',
  'ClusterExecutorOptions',
  'ClusterMapOptions',
  'ClusterProgress',
  'ClusterStats',
  'ClusterWorkerOptions',
  'Completion',
  'CountMinOptions',
  'CounterType',
  'DescribeOptions',
  'DescribeResult',
  'DistributedMapOptions',
  'ElementArray',
  'EvaluateManyOptions',
  'EvaluateOptions',
  'EvaluateResult',
  'ExpressionNode',
  'FileStoreOptions',
  'FunctionName',
  'FutureControl',
  'FutureExecutor',
  'FutureState',
  'FutureWaitOptions',
  'GatewayInfo',
  'GatewayOptions',
  'GatherOptions',
  'GatherTask',
  'GroupEvents',
  'GroupOptions',
  'GroupStats',
  'JobContext',
  'Key',
  'KurtosisOptions',
  'LatencySummary',
  'MapAsyncOptions',
  'MapContext',
  'MapFunction',
  'MapProgress',
  'MemoizeDecorator',
  'MemoizeOptions',
  'Memoized',
  'MemberLostEvent',
  'MemoizedMembers',
  'MemoryFigures',
  'MemoryProfile',
  'MemorySample',
  'MemoryStoreOptions',
  'MomentsJSON',
  'MomentsOptions',
  'NanPolicy',
  'NdArray',
  'NdResult',
  'OpenclVectorizeArgument',
  'OpenclVectorizedFunction',
  'OriginStats',
  'PoolMapOptions',
  'PoolOptions',
  'PoolProgress',
  'PoolStats',
  'ProfileMemoryOptions',
  'ProfiledError',
  'ReceiveOptions',
  'ReconnectBackoff',
  'ReconnectEvent',
  'ReconnectFailedEvent',
  'ReconnectOptions',
  'RedisConnection',
  'RedisStoreOptions',
  'Reduction',
  'Release',
  'ResultArray',
  'ReturnWhen',
  'SamplingOptions',
  'Separator',
  'SetCallbackOptions',
  'SkewnessOptions',
  'SubmitOptions',
  'TaskMemory',
  'TopKEntry',
  'TopKOptions',
  'UnaryOperator',
  'UpdateLinesOptions',
  'VariableValue',
  'Variables',
  'VarianceOptions',
  'VectorizeArgument',
  'VectorizeOptions',
  'VectorizedFunction',
  'WaitOptions',
  'WaitResult',
  'WeightedSketch',
  'WeightedTopK',
  'WithTimeoutOptions',
];

function loadedNames(args: string[]): { names: string[]; namespaces: Record<string, string[]> } {
  const child = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8' });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout);
}

const report = (h: string) =>
  `console.log(JSON.stringify({ names: Object.keys(${h}).filter((k) => k !== 'default').sort(), ` +
  `namespaces: { parallel: Object.keys(${h}.parallel).sort(), opencl: Object.keys(${h}.opencl).sort() } }))`;

describe('public exports', () => {
  it('require("hotpath") exports exactly the listed names', () => {
    const cjs = loadedNames(['-e', `const h = require('hotpath'); ${report('h')}`]);
    expect(cjs.names).toEqual(runtimeExports);
    expect(cjs.namespaces).toEqual(namespaceExports);
  });

  it('import "hotpath" exports exactly the listed names', () => {
    const esm = loadedNames(['--input-type=module', '-e', `import * as h from 'hotpath'; ${report('h')}`]);
    expect(esm.names).toEqual(runtimeExports);
    expect(esm.namespaces).toEqual(namespaceExports);
  });

  it('dist/index.d.ts declares exactly the runtime names plus the listed types', () => {
    const file = path.join(repoRoot, 'dist', 'index.d.ts');
    const program = ts.createProgram([file], { types: [], skipLibCheck: true, noResolve: false });
    const checker = program.getTypeChecker();
    const entry = checker.getSymbolAtLocation(program.getSourceFile(file)!)!;
    const declared = checker
      .getExportsOfModule(entry)
      .map((symbol) => symbol.name)
      .sort();
    expect(declared).toEqual([...runtimeExports, ...typeOnlyExports].sort());
  });
});
