export type { Device, DType, Feeds, Session, SessionOptions, Tensor, ValueInfo } from './session.ts';
export { checkFeeds, describeFeeds, openSession, RuntimeError, tensor, tensorFromBytes, tensorOf } from './session.ts';
