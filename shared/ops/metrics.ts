/**
 * A tiny, dependency-free metrics registry: counters, gauges and histograms
 * with labels, rendered in the Prometheus text exposition format 0.0.4.
 *
 * Pure: nothing here touches the network or the clock. Serve
 * {@linkcode Registry.render} with {@linkcode CONTENT_TYPE} (see
 * `metrics_server.ts`).
 *
 * @module
 */

/** `Content-Type` of the rendered text. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Label values of a series, by label name. */
export type Labels<L extends string> = { readonly [K in L]: string | number };

/** Values read at render time: one number, or one per label set. */
export type Collected<L extends string> =
  | number
  | Iterable<readonly [labels: Labels<L>, value: number]>;

/** Declaration shared by every metric type. */
export interface MetricOptions<L extends string> {
  /** Metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*` (counters by convention end in `_total`). */
  name: string;
  /** One line of help (newlines and backslashes are escaped). */
  help: string;
  /** Label names; every update of a labelled metric gives them all. */
  labelNames?: readonly L[];
}

/** Options of a counter or gauge. */
export interface ValueOptions<L extends string> extends MetricOptions<L> {
  /**
   * Reads the current value(s) when rendering, for numbers kept elsewhere
   * (e.g. a monotonic stats object). The series it returns replace the
   * stored ones.
   */
  collect?: () => Collected<L>;
}

/** Options of a histogram. */
export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** Upper bounds, strictly increasing; `+Inf` is always added. */
  buckets: readonly number[];
}

/** One series of a counter. */
export interface CounterSeries {
  /** Adds `by` (default 1, never negative). */
  inc(by?: number): void;
}

/** A counter: only goes up. */
export interface Counter<L extends string = never> extends CounterSeries {
  /** The series of these label values (created at 0 on first use). */
  labels(values: Labels<L>): CounterSeries;
}

/** One series of a gauge. */
export interface GaugeSeries {
  set(value: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
}

/** A gauge: a value that goes up and down. */
export interface Gauge<L extends string = never> extends GaugeSeries {
  labels(values: Labels<L>): GaugeSeries;
  /** Drops the series of these label values (e.g. a partition no longer assigned). */
  remove(values: Labels<L>): void;
  /** Drops every labelled series. */
  clear(): void;
}

/** One series of a histogram. */
export interface HistogramSeries {
  observe(value: number): void;
}

/** A histogram with fixed buckets. */
export interface Histogram<L extends string = never> extends HistogramSeries {
  labels(values: Labels<L>): HistogramSeries;
}

/** A set of metrics rendered together. */
export interface Registry {
  counter<L extends string = never>(options: ValueOptions<L>): Counter<L>;
  gauge<L extends string = never>(options: ValueOptions<L>): Gauge<L>;
  histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L>;
  /** The exposition text of every metric, in registration order. */
  render(): string;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Escapes a `# HELP` text. */
export function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** Escapes a label value (backslash, double quote, newline). */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Formats a sample value: integers as such, `+Inf`, `-Inf`, `NaN`. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return "";
  return `{${names.map((name, i) => `${name}="${escapeLabelValue(values[i] ?? "")}"`).join(",")}}`;
}

interface Definition {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  labelNames: readonly string[];
  render(): string[];
}

function validate(kind: string, options: MetricOptions<string>, reserved: string[] = []): void {
  if (!METRIC_NAME.test(options.name)) {
    throw new Error(
      `Cannot register ${kind}: 'name' must match ${METRIC_NAME.source}, got ${
        JSON.stringify(options.name)
      }`,
    );
  }
  for (const label of options.labelNames ?? []) {
    if (!LABEL_NAME.test(label) || label.startsWith("__") || reserved.includes(label)) {
      throw new Error(
        `Cannot register ${kind} '${options.name}': label names must match ${LABEL_NAME.source}${
          reserved.length > 0 ? ` and not be ${reserved.join(", ")}` : ""
        } (no leading __), got ${JSON.stringify(label)}`,
      );
    }
  }
  if (new Set(options.labelNames).size !== (options.labelNames ?? []).length) {
    throw new Error(`Cannot register ${kind} '${options.name}': label names must be unique`);
  }
}

/** Keeps the series of one metric, keyed by their label values. */
function seriesStore<S>(name: string, labelNames: readonly string[], create: () => S) {
  const series = new Map<string, { values: string[]; state: S }>();
  function valuesOf(labels: Record<string, string | number>): string[] {
    const given = Object.keys(labels);
    const extra = given.filter((key) => !labelNames.includes(key));
    const missing = labelNames.filter((key) => !(key in labels));
    if (extra.length > 0 || missing.length > 0) {
      throw new Error(
        `Cannot update '${name}': labels must be exactly ${JSON.stringify(labelNames)}, got ${
          JSON.stringify(given)
        }`,
      );
    }
    return labelNames.map((key) => String(labels[key]));
  }
  function get(labels: Record<string, string | number>): S {
    const values = valuesOf(labels);
    const key = JSON.stringify(values);
    let entry = series.get(key);
    if (entry === undefined) {
      entry = { values, state: create() };
      series.set(key, entry);
    }
    return entry.state;
  }
  return {
    series,
    get,
    delete(labels: Record<string, string | number>): void {
      series.delete(JSON.stringify(valuesOf(labels)));
    },
    unlabelled(): S {
      if (labelNames.length > 0) {
        throw new Error(
          `Cannot update '${name}' without labels: use .labels({ ${labelNames.join(", ")} })`,
        );
      }
      return get({});
    },
  };
}

function checkFinite(name: string, what: string, value: number): void {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new RangeError(`Cannot update '${name}': ${what} must be a number, got ${value}`);
  }
}

/**
 * Creates an empty registry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRegistry } from "./metrics.ts";
 * const registry = createRegistry();
 * const letters = registry.counter({
 *   name: "dead_letters_total",
 *   help: "Messages sent to the DLQ",
 *   labelNames: ["reason"],
 * });
 * letters.labels({ reason: "invalid-json" }).inc();
 * const latency = registry.histogram({ name: "insert_seconds", help: "Insert time", buckets: [0.1, 1] });
 * latency.observe(0.5);
 * assert.equal(
 *   registry.render(),
 *   [
 *     "# HELP dead_letters_total Messages sent to the DLQ",
 *     "# TYPE dead_letters_total counter",
 *     'dead_letters_total{reason="invalid-json"} 1',
 *     "# HELP insert_seconds Insert time",
 *     "# TYPE insert_seconds histogram",
 *     'insert_seconds_bucket{le="0.1"} 0',
 *     'insert_seconds_bucket{le="1"} 1',
 *     'insert_seconds_bucket{le="+Inf"} 1',
 *     "insert_seconds_sum 0.5",
 *     "insert_seconds_count 1",
 *     "",
 *   ].join("\n"),
 * );
 * ```
 */
export function createRegistry(): Registry {
  const definitions: Definition[] = [];

  function register(definition: Definition): void {
    if (definitions.some((existing) => existing.name === definition.name)) {
      throw new Error(`Cannot register '${definition.name}': a metric of that name exists`);
    }
    definitions.push(definition);
  }

  function valueMetric<L extends string>(
    type: "counter" | "gauge",
    options: ValueOptions<L>,
  ) {
    validate(type, options);
    const labelNames: readonly string[] = options.labelNames ?? [];
    const store = seriesStore(options.name, labelNames, () => ({ value: 0 }));
    if (labelNames.length === 0) store.get({});
    register({
      name: options.name,
      help: options.help,
      type,
      labelNames,
      render() {
        if (options.collect !== undefined) {
          const collected = options.collect();
          store.series.clear();
          if (typeof collected === "number") store.unlabelled().value = collected;
          else for (const [labels, value] of collected) store.get(labels).value = value;
        }
        return [...store.series.values()].map(({ values, state }) =>
          `${options.name}${labelText(labelNames, values)} ${formatValue(state.value)}`
        );
      },
    });
    return store;
  }

  return {
    counter<L extends string = never>(options: ValueOptions<L>): Counter<L> {
      const store = valueMetric("counter", options);
      const series = (state: { value: number }): CounterSeries => ({
        inc(by = 1) {
          checkFinite(options.name, "'by'", by);
          if (by < 0) {
            throw new RangeError(
              `Cannot increase counter '${options.name}': 'by' must not be negative, got ${by}`,
            );
          }
          state.value += by;
        },
      });
      return {
        inc: (by) => series(store.unlabelled()).inc(by),
        labels: (values) => series(store.get(values)),
      };
    },

    gauge<L extends string = never>(options: ValueOptions<L>): Gauge<L> {
      const store = valueMetric("gauge", options);
      const series = (state: { value: number }): GaugeSeries => ({
        set(value) {
          state.value = value;
        },
        inc(by = 1) {
          checkFinite(options.name, "'by'", by);
          state.value += by;
        },
        dec(by = 1) {
          checkFinite(options.name, "'by'", by);
          state.value -= by;
        },
      });
      return {
        set: (value) => series(store.unlabelled()).set(value),
        inc: (by) => series(store.unlabelled()).inc(by),
        dec: (by) => series(store.unlabelled()).dec(by),
        labels: (values) => series(store.get(values)),
        remove: (values) => store.delete(values),
        clear: () => {
          if ((options.labelNames ?? []).length > 0) store.series.clear();
        },
      };
    },

    histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
      validate("histogram", options, ["le"]);
      const bounds = options.buckets.filter((bound) => bound !== Infinity);
      bounds.forEach((bound, i) => {
        if (!Number.isFinite(bound) || (i > 0 && bound <= bounds[i - 1]!)) {
          throw new Error(
            `Cannot register histogram '${options.name}': 'buckets' must be finite and strictly increasing, got ${
              JSON.stringify(options.buckets)
            }`,
          );
        }
      });
      const labelNames: readonly string[] = options.labelNames ?? [];
      const store = seriesStore(options.name, labelNames, () => ({
        counts: bounds.map(() => 0),
        sum: 0,
        count: 0,
      }));
      if (labelNames.length === 0) store.get({});
      const name = options.name;
      register({
        name,
        help: options.help,
        type: "histogram",
        labelNames,
        render() {
          const lines: string[] = [];
          for (const { values, state } of store.series.values()) {
            let cumulative = 0;
            bounds.forEach((bound, i) => {
              cumulative += state.counts[i]!;
              lines.push(
                `${name}_bucket${
                  labelText([...labelNames, "le"], [...values, formatValue(bound)])
                } ${cumulative}`,
              );
            });
            lines.push(
              `${name}_bucket${
                labelText([...labelNames, "le"], [...values, "+Inf"])
              } ${state.count}`,
              `${name}_sum${labelText(labelNames, values)} ${formatValue(state.sum)}`,
              `${name}_count${labelText(labelNames, values)} ${state.count}`,
            );
          }
          return lines;
        },
      });
      const series = (state: { counts: number[]; sum: number; count: number }) => ({
        observe(value: number) {
          checkFinite(name, "the observed value", value);
          const bucket = bounds.findIndex((bound) => value <= bound);
          if (bucket !== -1) state.counts[bucket]!++;
          state.sum += value;
          state.count++;
        },
      });
      return {
        observe: (value) => series(store.unlabelled()).observe(value),
        labels: (values) => series(store.get(values)),
      };
    },

    render() {
      return definitions.map((definition) =>
        [
          `# HELP ${definition.name} ${escapeHelp(definition.help)}`,
          `# TYPE ${definition.name} ${definition.type}`,
          ...definition.render(),
        ].join("\n") + "\n"
      ).join("");
    },
  };
}
