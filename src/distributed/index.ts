export { Channel, type ReceiveOptions, type SetCallbackOptions } from './channel.js';
export { ChannelClosedError, GatewayError, LostJobError, RemoteError } from '../core/errors.js';
export { Gateway, openGateway, type GatewayInfo, type GatewayOptions } from './gateway.js';
export {
  Group,
  type GroupEvents,
  type GroupOptions,
  type GroupStats,
  type MemberLostEvent,
  type ReconnectBackoff,
  type ReconnectEvent,
  type ReconnectFailedEvent,
  type ReconnectOptions,
} from './group.js';
export { type DistributedMapOptions } from './map.js';
export {
  ClusterExecutor,
  type ClusterExecutorOptions,
  type ClusterMapOptions,
  type ClusterProgress,
  type ClusterStats,
} from './cluster.js';
export { type RedisConnection } from '../core/redis.js';
export { startClusterWorker, type ClusterWorkerOptions, type JobContext } from './worker.js';
