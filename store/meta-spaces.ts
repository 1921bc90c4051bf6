/**
 * Every space of the ledger's metadata KV, declared once, each with its one
 * owner: the only module that writes it (others may read). The strings are
 * stored data: never change one (a rename needs a migration on open); add a
 * new space here before using it.
 */
export const MetaSpace = {
  /** MQTT persistent sessions; key clientId. Owner: gateway/mqtt/sessions.ts (SessionRegistry). */
  mqttSession: 'mqtt-session',
  /**
   * MQTT QoS 2 inbound packet ids still awaiting PUBREL; key clientId + packet id.
   * Written with the PUBLISH's own record (AppendInput.meta), removed at PUBREL.
   * Owner: gateway/mqtt (session.ts writes, sessions.ts clears orphans at restore).
   */
  mqttQos2In: 'mqtt-qos2-in',
  /** Retained messages; key full topic name. Owner: gateway/mqtt/retained.ts. */
  retained: 'retained',
  /** Durable subscriptions; key namespace, filter, name. Owner: gateway/dispatch/dispatcher.ts. */
  subscription: 'subscription',
  /** Namespace policies set at run time; key tenant/namespace. Owner: gateway/policy/registry.ts. */
  namespacePolicy: 'namespace-policy',
  /**
   * Replicated subscriptions: a site's acknowledgement state of one cursor in
   * origin coordinates; key topic NUL site NUL cursor name. Written by its site,
   * shipped in the link's control lane, kept at the others. Owner: replicator/cursor-sync.ts.
   */
  replCursor: 'repl-cursor'
} as const
export type MetaSpace = typeof MetaSpace[keyof typeof MetaSpace]
