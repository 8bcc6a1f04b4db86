export * from './auth.ts';
export * from './checkpoints.ts';
export * from './datasets.ts';
export * from './listening.ts';
export * from './promotions.ts';
export * from './sessions.ts';
export * from './training.ts';
export * from './voices.ts';
