/**
 * The producer stage: the artist catalog, the simulated listeners (Zipf
 * popularity, realistic timing), the produce loop that turns their events
 * into keyed messages, paced and retried, and what the producer logs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSimulator, produceEvents } from "./mod.ts";
 * const stats = await produceEvents({
 *   next: createSimulator({ seed: 1 }),
 *   count: 3,
 *   rate: 0,
 *   send: () => Promise.resolve(),
 * });
 * assert.equal(stats.sent, 3);
 * ```
 *
 * @module
 */

export { type KeyBy, produceOptions } from "./options.ts";
export {
  type EventMessage,
  produceEvents,
  type ProduceOptions,
  type ProduceStats,
} from "./produce_events.ts";
export {
  deliverTo,
  logProduced,
  type ProducerProgress,
  refusedForGood,
  startProducerProgress,
} from "./producer_lines.ts";
export { type Catalog, generateCatalog, listCatalog } from "./generated_catalog.ts";
export { createSimulator, type Simulator } from "./simulator.ts";
