import assert from "node:assert/strict";
import {
  boolean,
  decimal,
  envNames,
  exampleValue,
  formatHelp,
  formatOptionError,
  integer,
  type Option,
  optional,
  OptionError,
  parseOptions,
  type RawValues,
  text,
} from "../../shared/cli/options.ts";

const table = {
  count: {
    flag: "count",
    env: "COUNT",
    arg: "N",
    help: "Events to send",
    fallback: 10,
    parse: integer(),
  },
  rate: {
    flag: "rate",
    env: "RATE",
    arg: "PER_SECOND",
    help: "Events per second",
    fallback: 0,
    parse: decimal(),
  },
  name: {
    flag: "name",
    env: "NAME",
    arg: "NAME",
    help: "A name",
    fallback: "plays",
    parse: text(),
  },
  derived: {
    flag: "derived",
    env: "DERIVED",
    arg: "NAME",
    help: "Derived from name",
    fallback: (raw: RawValues) => `${raw.name ?? "plays"}.dlq`,
    fallbackHelp: "<name>.dlq",
    parse: text(),
  },
  verbose: {
    flag: "verbose",
    help: "Say more",
    fallback: false,
    parse: boolean,
  },
  note: {
    flag: "note",
    arg: "TEXT",
    help: "Optional note",
    fallback: undefined,
    parse: optional,
  },
} satisfies Record<string, Option<unknown>>;

function rejects(args: string[], env: Record<string, string>, message: string): void {
  assert.throws(() => parseOptions(table, args, env), (error: unknown) => {
    assert.ok(error instanceof OptionError);
    assert.equal(error.name, "OptionError");
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("parseOptions() uses defaults when nothing is given", () => {
  assert.deepEqual(parseOptions(table, [], {}), {
    count: 10,
    rate: 0,
    name: "plays",
    derived: "plays.dlq",
    verbose: false,
    note: undefined,
  });
});

Deno.test("parseOptions() prefers a flag to the environment to the default", () => {
  assert.equal(parseOptions(table, [], {}).count, 10);
  assert.equal(parseOptions(table, [], { COUNT: "20" }).count, 20);
  assert.equal(parseOptions(table, ["--count", "30"], { COUNT: "20" }).count, 30);
  assert.equal(parseOptions(table, ["--count=40"], { COUNT: "20" }).count, 40);
});

Deno.test("parseOptions() treats an empty environment variable as unset", () => {
  assert.equal(parseOptions(table, [], { COUNT: "" }).count, 10);
});

Deno.test("parseOptions() ignores variables it does not declare", () => {
  assert.equal(parseOptions(table, [], { count: "99", OTHER: "1" }).count, 10);
});

Deno.test("parseOptions() reads --flag=value, keeping '=' inside the value", () => {
  const values = parseOptions(table, ["--name=a=b", "--note=x"], {});
  assert.equal(values.name, "a=b");
  assert.equal(values.note, "x");
});

Deno.test("parseOptions() lets the last of a repeated flag win", () => {
  assert.equal(parseOptions(table, ["--count", "1", "--count", "2"], {}).count, 2);
});

Deno.test("parseOptions() reads a switch without value", () => {
  assert.equal(parseOptions(table, ["--verbose"], {}).verbose, true);
  assert.equal(parseOptions(table, ["--verbose=false"], {}).verbose, false);
  // A switch does not swallow the next flag.
  const values = parseOptions(table, ["--verbose", "--count", "3"], {});
  assert.equal(values.verbose, true);
  assert.equal(values.count, 3);
});

Deno.test("parseOptions() derives a default from the other raw values", () => {
  assert.equal(parseOptions(table, ["--name", "x"], {}).derived, "x.dlq");
  assert.equal(parseOptions(table, [], { NAME: "y" }).derived, "y.dlq");
  assert.equal(parseOptions(table, ["--name", "x"], { DERIVED: "z" }).derived, "z");
});

Deno.test("parseOptions() rejects an unknown flag", () => {
  rejects(["--nope"], {}, "Unknown flag --nope (see --help)");
  rejects(["--nope=1"], {}, "Unknown flag --nope (see --help)");
  rejects(["--Count", "1"], {}, "Unknown flag --Count (see --help)");
});

Deno.test("parseOptions() rejects a positional argument", () => {
  rejects(["5"], {}, `Unexpected argument "5"`);
  rejects(["-c", "5"], {}, `Unexpected argument "-c"`);
});

Deno.test("parseOptions() rejects a flag missing its value", () => {
  rejects(["--count"], {}, "Flag --count needs a value N");
  rejects(["--count", "--rate", "1"], {}, "Flag --count needs a value N");
});

Deno.test("parseOptions() names the flag and variable of a bad value", () => {
  rejects(["--count", "x"], {}, `Invalid --count (COUNT): must be an integer, got "x"`);
  rejects([], { COUNT: "x" }, `Invalid --count (COUNT): must be an integer, got "x"`);
  rejects(["--count="], {}, `Invalid --count (COUNT): must be an integer, got ""`);
  rejects(["--verbose=maybe"], {}, `Invalid --verbose: must be true or false, got "maybe"`);
});

Deno.test("parseOptions() rejects negative numbers", () => {
  rejects(["--count", "-1"], {}, "Invalid --count (COUNT): must be at least 0, got -1");
  rejects(["--count=-5"], {}, "Invalid --count (COUNT): must be at least 0, got -5");
  rejects([], { RATE: "-0.5" }, "Invalid --rate (RATE): must be at least 0, got -0.5");
});

Deno.test("parseOptions() does not fall back to the environment after a bad flag", () => {
  rejects(["--count", "x"], { COUNT: "5" }, `Invalid --count (COUNT): must be an integer, got "x"`);
});

Deno.test("integer() accepts integers within bounds only", () => {
  const parse = integer(1, 100);
  assert.equal(parse("1"), 1);
  assert.equal(parse(" 100 "), 100);
  assert.equal(parse("+7"), 7);
  for (const raw of ["", " ", "1.5", "1e3", "0x10", "ten", "1_000"]) {
    assert.throws(() => parse(raw), { message: `must be an integer, got ${JSON.stringify(raw)}` });
  }
  assert.throws(() => parse("0"), { message: "must be between 1 and 100, got 0" });
  assert.throws(() => parse("101"), { message: "must be between 1 and 100, got 101" });
  assert.throws(() => integer()("9007199254740993"), { message: /must be an integer/ });
});

Deno.test("decimal() accepts finite numbers at least min", () => {
  const parse = decimal(0.5);
  assert.equal(parse("0.5"), 0.5);
  assert.equal(parse("12.25"), 12.25);
  assert.throws(() => parse("0.4"), { message: "must be at least 0.5, got 0.4" });
  for (const raw of ["", "abc", "Infinity", "NaN"]) {
    assert.throws(() => parse(raw), { message: `must be a number, got ${JSON.stringify(raw)}` });
  }
});

Deno.test("text() checks a pattern and describes it", () => {
  const parse = text(/^[a-z]+$/, "lower-case letters");
  assert.equal(parse("abc"), "abc");
  assert.throws(() => parse("ABC"), { message: `must be lower-case letters, got "ABC"` });
  assert.throws(() => text()(""), { message: `must be a non-empty string, got ""` });
});

Deno.test("boolean() reads the usual spellings", () => {
  for (const raw of ["1", "true", "YES", "on", " True "]) assert.equal(boolean(raw), true);
  for (const raw of ["0", "false", "No", "off"]) assert.equal(boolean(raw), false);
  assert.throws(() => boolean("2"), { message: `must be true or false, got "2"` });
});

Deno.test("optional() maps an empty string to undefined", () => {
  assert.equal(optional(""), undefined);
  assert.equal(optional("key.json"), "key.json");
});

Deno.test("formatHelp() lists every flag, variable and default", () => {
  const help = formatHelp("deno task produce [OPTIONS]", "Sends events.", table);
  assert.ok(help.startsWith("Sends events.\n\nUsage: deno task produce [OPTIONS]\n\nOptions:\n"));
  for (const option of Object.values(table) as Option<unknown>[]) {
    const left = `--${option.flag}${option.arg ? ` ${option.arg}` : ""}`;
    const line = help.split("\n").find((row) => row.trimStart().startsWith(`${left} `));
    assert.ok(line, `no line for ${left}`);
    assert.ok(line.includes(option.help), line);
    if (option.env) assert.ok(line.endsWith(`[${option.env}]`), line);
  }
  assert.match(help, /--count N +Events to send \(default: 10\) {2}\[COUNT\]/);
  assert.match(help, /--derived NAME +Derived from name \(default: <name>\.dlq\) {2}\[DERIVED\]/);
  assert.match(help, /--note TEXT +Optional note \(default: unset\)\n/);
  assert.match(help, /--help +Show this help and exit\n$/);
});

Deno.test("envNames() lists each variable once", () => {
  assert.deepEqual(envNames(table, { other: { ...table.count } }).sort(), [
    "COUNT",
    "DERIVED",
    "NAME",
    "RATE",
  ]);
});

Deno.test("parseOptions() lists every problem at once, each with an example", () => {
  assert.throws(
    () => parseOptions(table, ["--count", "x", "--nope", "1", "--rate"], { NAME: "", DERIVED: "" }),
    (error: unknown) => {
      assert.ok(error instanceof OptionError);
      assert.deepEqual(error.problems, [
        { text: "Unknown flag --nope (see --help)" },
        { text: "Flag --rate needs a value PER_SECOND", example: "--rate 0" },
        { text: `Invalid --count (COUNT): must be an integer, got "x"`, example: "--count 10" },
      ]);
      assert.equal(error.message, error.problems.map((problem) => problem.text).join("\n"));
      return true;
    },
  );
});

Deno.test("parseOptions() shows an example the way the bad value was given", () => {
  assert.throws(() => parseOptions(table, [], { COUNT: "x", RATE: "-1" }), (error: unknown) => {
    assert.ok(error instanceof OptionError);
    assert.deepEqual(error.problems.map((problem) => problem.example), ["COUNT=10", "RATE=0"]);
    return true;
  });
  assert.throws(() => parseOptions(table, ["--verbose=maybe"], {}), (error: unknown) => {
    assert.ok(error instanceof OptionError);
    assert.equal(error.problems[0]?.example, "--verbose=false");
    return true;
  });
});

Deno.test("parseOptions() runs the checks of the options that parsed", () => {
  const checked = {
    ...table,
    rate: { ...table.rate, check: () => "rate and count do not fit together" },
  };
  assert.throws(() => parseOptions(checked, ["--count", "x"], {}), (error: unknown) => {
    assert.ok(error instanceof OptionError);
    assert.deepEqual(error.problems.map((problem) => problem.text), [
      `Invalid --count (COUNT): must be an integer, got "x"`,
      "rate and count do not fit together",
    ]);
    return true;
  });
  assert.throws(() => parseOptions(checked, ["--rate", "x"], {}), (error: unknown) => {
    assert.ok(error instanceof OptionError);
    assert.equal(error.problems.length, 1, "a rate that failed is not checked");
    return true;
  });
});

Deno.test("exampleValue() prefers the declared example, then a valid default", () => {
  assert.equal(exampleValue({ ...table.name, example: "plays_v2" }), "plays_v2");
  assert.equal(exampleValue(table.derived), "plays.dlq");
  assert.equal(exampleValue(table.note), undefined);
  assert.equal(exampleValue({ ...table.count, fallback: -1 }), undefined, "-1 is not valid");
  assert.equal(exampleValue({ ...table.name, secret: true }), undefined);
});

Deno.test("formatOptionError() prints one error line per problem", () => {
  const error = new OptionError([
    { text: "Unknown flag --nope (see --help)" },
    { text: `Invalid --count (COUNT): must be an integer, got "x"`, example: "COUNT=10" },
  ]);
  assert.equal(
    formatOptionError(error),
    "error: Unknown flag --nope (see --help)\n" +
      `error: Invalid --count (COUNT): must be an integer, got "x" (for example COUNT=10)`,
  );
});
