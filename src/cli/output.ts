// Output for people (aligned tables) and for scripts (`-o json`: stable, documented in
// docs/cli.md: objects with the protobuf field names in camelCase; lists as JSON arrays).

export type OutputFormat = 'table' | 'json';

export interface Column<T> {
  header: string;
  value: (row: T) => string | number;
}

export function renderTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => String(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

export class Output {
  constructor(readonly format: OutputFormat, private readonly write: (s: string) => void = (s) => process.stdout.write(s)) {}

  /** A list of objects: a table, or a JSON array. */
  list<T extends object>(rows: T[], columns: Column<T>[]): void {
    this.write(this.format === 'json' ? JSON.stringify(rows, null, 2) + '\n' : renderTable(rows, columns));
  }

  /** One object: "field: value" lines, or a JSON object. */
  object<T extends object>(obj: T, columns: Column<T>[]): void {
    if (this.format === 'json') {
      this.write(JSON.stringify(obj, null, 2) + '\n');
      return;
    }
    const width = Math.max(...columns.map((c) => c.header.length));
    this.write(columns.map((c) => `${(c.header + ':').padEnd(width + 1)} ${c.value(obj)}`).join('\n') + '\n');
  }

  /** The result of an action with no object to show (a delete). */
  done(json: object, text: string): void {
    this.write(this.format === 'json' ? JSON.stringify(json) + '\n' : text + '\n');
  }
}
