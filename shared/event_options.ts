/**
 * The option shared by the consumer and the dashboard that bounds event
 * times: how far ahead of the reader's clock an event time may be (see
 * `checkEventTime`). The consumer dead-letters later events, the dashboard
 * leaves them out, by the same rule.
 *
 * @module
 */

import { formatDuration, parseDuration } from "./cli/duration.ts";
import type { Option } from "./cli/options.ts";
import { DEFAULT_MAX_FUTURE_MS } from "./event.ts";

/** `--max-future-skew`: how far ahead of the clock an event time may be. */
export const eventTimeOptions = {
  maxFutureSkew: {
    flag: "max-future-skew",
    env: "MAX_FUTURE_SKEW",
    arg: "DURATION",
    help: "Event times further than this ahead of the clock are refused " +
      "(the consumer dead-letters them as invalid-event, the dashboard leaves them out)",
    fallback: DEFAULT_MAX_FUTURE_MS,
    fallbackHelp: formatDuration(DEFAULT_MAX_FUTURE_MS),
    parse: parseDuration,
  },
} satisfies Record<string, Option<number>>;
