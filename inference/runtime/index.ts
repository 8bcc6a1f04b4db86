export type { Device, DType, Feeds, Session, SessionOptions, Tensor, ValueInfo } from './session.ts';
export { checkedRun, checkFeeds, openSession, RuntimeError, tensor, tensorFromBytes, tensorOf } from './session.ts';
