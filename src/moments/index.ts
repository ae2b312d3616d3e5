export {
  Moments,
  describe,
  describeAsync,
  type AsyncOptions,
  type DescribeOptions,
  type DescribeResult,
  type KurtosisOptions,
  type MomentsJSON,
  type MomentsOptions,
  type NanPolicy,
  type SkewnessOptions,
  type VarianceOptions,
} from './moments.js';
