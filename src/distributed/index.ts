export { Channel, type ReceiveOptions } from './channel.js';
export { ChannelClosedError, GatewayError, RemoteError, TimeoutError } from './errors.js';
export { Future, type FutureState } from './future.js';
export { Gateway, openGateway, type GatewayInfo, type GatewayOptions } from './gateway.js';
export { Group, type GroupOptions, type GroupStats } from './group.js';
export { type MapOptions, type MapResult } from './map-result.js';
export { ClusterExecutor, type ClusterExecutorOptions, type ClusterMapOptions, type ClusterProgress, type ClusterStats } from './cluster.js';
export { type RedisConnection } from './redis.js';
export { startClusterWorker, type ClusterWorkerOptions, type JobContext } from './worker.js';
