// Reading a parsed YAML document node by node while keeping the path ("nics[3].host") and the line
// of every value, so that each complaint names both. Errors are collected, not thrown, so a file
// with five mistakes is reported with five lines at once.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type YAMLMap } from 'yaml';
import { VxfabError } from '../model/errors.js';
import type { Where } from './topology.js';

export interface Problem {
  path: string;
  line: number;
  col: number;
  message: string;
}

/** A topology file that does not load: every problem found, each with line and path. */
export class TopologyError extends VxfabError {
  constructor(readonly file: string, readonly problems: Problem[]) {
    super('INVALID_ARGUMENT', TopologyError.describe(file, problems), {
      field: problems[0]?.path ?? '', value: problems[0] === undefined ? '' : `${file}:${problems[0].line}`,
    });
    this.name = 'TopologyError';
  }

  static describe(file: string, problems: Problem[]): string {
    const shown = problems.slice(0, 25).map((p) => `${file}:${p.line}${p.col ? `:${p.col}` : ""}: ${p.path || "(top)"}: ${p.message}`);
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
    return `${problems.length} problem(s) in ${file}:\n  ${shown.join('\n  ')}`;
  }
}

export class Reader {
  readonly problems: Problem[] = [];
  private readonly lines = new LineCounter();

  constructor(readonly file: string) {}

  /** Parses text; syntax errors become problems. Returns the document's root node. */
  parse(text: string): YamlNode | undefined {
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const e of doc.errors) {
      const pos = e.linePos?.[0];
      this.problems.push({ path: '', line: pos?.line ?? 0, col: pos?.col ?? 0, message: e.message.split('\n')[0]! });
    }
    if (doc.errors.length > 0) return undefined;
    return (doc.contents as YamlNode | null) ?? undefined;
  }

  where(node: YamlNode | undefined, path: string): Where {
    return { path, line: this.pos(node).line };
  }

  private pos(node: YamlNode | undefined): { line: number; col: number } {
    const start = node?.range?.[0];
    return start === undefined ? { line: 0, col: 0 } : this.lines.linePos(start);
  }

  fail(node: YamlNode | undefined, path: string, message: string): undefined {
    const { line, col } = this.pos(node);
    this.problems.push({ path, line, col, message });
    return undefined;
  }

  /** Problem at a place already resolved to a Where (for checks after reading, e.g. references). */
  failAt(where: Where, message: string): void {
    this.problems.push({ path: where.path, line: where.line, col: 0, message });
  }

  /** A map's entries; unknown keys are problems. Undefined (and a problem) when not a map. */
  map(node: YamlNode | undefined, path: string, allowed: readonly string[]): Fields | undefined {
    if (!isMap(node)) return this.fail(node, path, `expected a map with keys ${allowed.join(', ')}`);
    const entries = new Map<string, YamlNode | undefined>();
    for (const pair of (node as YAMLMap).items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) {
        this.fail(pair.key as YamlNode, path, 'keys must be plain text');
        continue;
      }
      if (!allowed.includes(key)) {
        this.fail(pair.key as YamlNode, join(path, key), `unknown key "${key}" (expected one of ${allowed.join(', ')})`);
        continue;
      }
      entries.set(key, (pair.value as YamlNode | null) ?? undefined);
    }
    return { node, path, entries };
  }

  /** A sequence's items, each with its path. Absent → []. */
  seq(node: YamlNode | undefined, path: string): Array<{ node: YamlNode | undefined; path: string }> {
    if (node === undefined) return [];
    if (!isSeq(node)) {
      this.fail(node, path, 'expected a list');
      return [];
    }
    return node.items.map((item, i) => ({ node: (item as YamlNode | null) ?? undefined, path: `${path}[${i}]` }));
  }

  private missing(f: Fields, key: string): undefined {
    return this.fail(f.node, join(f.path, key), `"${key}" is required`);
  }

  /** Text (numbers are accepted and turned into text). */
  str(f: Fields, key: string, required = false): string | undefined {
    const node = f.entries.get(key);
    if (node === undefined) return required ? this.missing(f, key) : undefined;
    return this.text(node, join(f.path, key));
  }

  text(node: YamlNode | undefined, path: string): string | undefined {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object' || typeof node.value === 'boolean') {
      return this.fail(node, path, 'expected text');
    }
    return String(node.value);
  }

  int(f: Fields, key: string, min: number, max: number, required = false): number | undefined {
    const node = f.entries.get(key);
    const p = join(f.path, key);
    if (node === undefined) return required ? this.missing(f, key) : undefined;
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value)) {
      return this.fail(node, p, 'expected a whole number');
    }
    if (node.value < min || node.value > max) return this.fail(node, p, `${node.value} is out of range ${min}..${max}`);
    return node.value;
  }

  bool(f: Fields, key: string): boolean | undefined {
    const node = f.entries.get(key);
    if (node === undefined) return undefined;
    if (!isScalar(node) || typeof node.value !== 'boolean') return this.fail(node, join(f.path, key), 'expected true or false');
    return node.value;
  }

  /** A list of text values, or the word "all" (→ undefined). */
  names(f: Fields, key: string): string[] | undefined {
    const node = f.entries.get(key);
    if (node === undefined) return undefined;
    if (isScalar(node) && node.value === 'all') return undefined;
    const out: string[] = [];
    for (const item of this.seq(node, join(f.path, key))) {
      const s = this.text(item.node, item.path);
      if (s !== undefined) out.push(s);
    }
    return out;
  }
}

/** A map node read by Reader.map: its entries by key, and where it is. */
export interface Fields {
  node: YamlNode;
  path: string;
  entries: Map<string, YamlNode | undefined>;
}

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
