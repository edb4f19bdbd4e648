/**
 * earshot: streaming latency as the user experiences it.
 * Core (turn recorder, metrics, SLOs) plus the WebSocket and fetch transports.
 */
export { createMonitor } from './monitor';
export type { ManualTurn, Monitor, MonitorOptions, ObservedConnection, Sink, TransportOptions } from './monitor';
export { adapters } from './adapters';
export { redactUrl, SECRET_PARAMS } from './core/redact';
export type * from './core/types';
