export { Channel, type ReceiveOptions } from './channel.js';
export { ChannelClosedError, GatewayError, RemoteError, TimeoutError } from './errors.js';
export { Future, type FutureState } from './future.js';
export { Gateway, openGateway, type GatewayInfo, type GatewayOptions } from './gateway.js';
export { Group, type GroupOptions, type GroupStats } from './group.js';
export { type MapOptions, type MapResult } from './map-result.js';
