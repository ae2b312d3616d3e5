export { mapAsync, ResultStream, type Backoff, type MapAsyncOptions, type MapContext, type MapFunction } from './map.js';
