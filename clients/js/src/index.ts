// @tidings/client: the JavaScript/TypeScript client of the Tidings protocol v1.

export { Client, connect } from './client.js';
export type {
  ClientEvents,
  ClientState,
  HistoryOptions,
  HistoryPage,
  RequestOptions,
  StateChange,
} from './client-types.js';
export type { ClientOptions, UpgradeOptions } from './options.js';
export type { TransportMemoryOption } from './transport-memory.js';
export type { BackoffOptions } from './backoff.js';
export { Subscription } from './subscription.js';
export type { SubscribeOptions, SubscribedEvent, SubscriptionEvents, SubscriptionState } from './subscription.js';
export { Room } from './room.js';
export type { JoinOptions, JoinedEvent, RoomEvents, RoomState, SendOptions } from './room.js';
export type { GapEvent } from './channel.js';
export { ClientErrorCode, MAX_AUTH_REFUSALS, TidingsError } from './errors.js';
export { CloseCode, shouldReconnect } from './close-codes.js';
export { PROTOCOL_VERSION } from './protocol.js';
export type { Member, Missed, Position, Publication } from './protocol.js';
export type { TransportName } from './transports/transport.js';
export type {
  EventSourceConstructor,
  EventSourceLike,
  FetchLike,
  WebSocketConstructor,
  WebSocketLike,
  XMLHttpRequestConstructor,
  XMLHttpRequestLike,
} from './env.js';
