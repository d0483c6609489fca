/**
 * A strict reader of the Prometheus text exposition format 0.0.4 for tests:
 * it checks the grammar of every line, so a render that a real scraper
 * would reject fails here too.
 *
 * @module
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples plus the HELP and TYPE of each metric family. */
export interface Exposition {
  samples: Sample[];
  help: Map<string, string>;
  types: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function unescape(text: string, quotes: boolean): string {
  return text.replace(/\\(.)/g, (_, char: string) => {
    if (char === "n") return "\n";
    if (char === "\\") return "\\";
    if (char === '"' && quotes) return '"';
    throw new Error(`Invalid escape \\${char}`);
  });
}

/** Special values are case-insensitive, as in Prometheus (prom-client writes `Nan`). */
function parseValue(text: string): number {
  const special = text.toLowerCase();
  if (special === "+inf" || special === "inf") return Infinity;
  if (special === "-inf") return -Infinity;
  if (special === "nan") return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new Error(`Invalid sample value ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** Parses exposition text; throws on any malformed line. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  if (text !== "" && !text.endsWith("\n")) throw new Error("Exposition must end with a newline");
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (kind === "HELP") help.set(name!, unescape(rest!, false));
      else {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest!)) {
          throw new Error(`Invalid TYPE line ${JSON.stringify(line)}`);
        }
        if (types.has(name!)) throw new Error(`Duplicate TYPE for ${name}`);
        types.set(name!, rest!);
      }
      continue;
    }
    if (line.startsWith("#")) continue;
    let rest = line;
    const name = NAME.exec(rest)?.[0];
    if (name === undefined) throw new Error(`Invalid sample line ${JSON.stringify(line)}`);
    rest = rest.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      rest = rest.slice(1);
      while (!rest.startsWith("}")) {
        const label = LABEL.exec(rest)?.[0];
        if (label === undefined || rest[label.length] !== "=" || rest[label.length + 1] !== '"') {
          throw new Error(`Invalid labels in ${JSON.stringify(line)}`);
        }
        rest = rest.slice(label.length + 2);
        const end = /^((?:[^"\\\n]|\\.)*)"/.exec(rest);
        if (end === null) throw new Error(`Unterminated label value in ${JSON.stringify(line)}`);
        labels[label] = unescape(end[1]!, true);
        rest = rest.slice(end[0].length);
        if (rest.startsWith(",")) rest = rest.slice(1);
        else if (!rest.startsWith("}")) {
          throw new Error(`Invalid labels in ${JSON.stringify(line)}`);
        }
      }
      rest = rest.slice(1);
    }
    const value = /^ (\S+)$/.exec(rest);
    if (value === null) throw new Error(`Invalid sample line ${JSON.stringify(line)}`);
    samples.push({ name, labels, value: parseValue(value[1]!) });
  }
  return { samples, help, types };
}

/** The value of the one sample named `name` whose labels include `labels`. */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = exposition.samples.filter((sample) =>
    sample.name === name &&
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
  );
  if (found.length > 1) throw new Error(`${found.length} samples match ${name}`);
  return found[0]?.value;
}

/**
 * Reads /metrics of the server on 127.0.0.1:`port` (parsed strictly) and
 * returns the one sample named `name` whose labels include `labels`; NaN
 * when there is none.
 */
export async function scrapeValue(
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return sampleValue(parseExposition(text), name, labels) ?? NaN;
}
