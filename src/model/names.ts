// Names of networks, NICs and other objects are DNS labels (RFC 1123), so they can appear in
// hostnames, interface aliases and file names without quoting; node names are hostnames.

import { invalid } from './errors.js';

export const NAME_MAX = 63;
export const NODE_NAME_MAX = 253;

/** Why `label` is not a DNS label, or undefined when it is one. */
function labelProblem(label: string, allowed: string): string | undefined {
  if (label.length === 0) return 'must not be empty';
  if (label.length > NAME_MAX) return `is ${label.length} characters long, at most ${NAME_MAX} allowed`;
  const bad = /[^a-z0-9-]/.exec(label);
  if (bad !== null) {
    const c = bad[0];
    if (c !== c.toLowerCase()) return `must be lowercase (found ${JSON.stringify(c)})`;
    return `contains ${JSON.stringify(c)}: only ${allowed} are allowed`;
  }
  if (label.startsWith('-')) return "must not start with '-'";
  if (label.endsWith('-')) return "must not end with '-'";
  return undefined;
}

/**
 * A name: 1 to 63 lowercase letters, digits and '-', not starting or ending with '-'. Returns it
 * unchanged; INVALID_ARGUMENT naming the field and saying what is wrong otherwise.
 */
export function validateName(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(field, value, 'must be text');
  const problem = labelProblem(value, "lowercase letters, digits and '-'");
  if (problem !== undefined) throw invalid(field, value, problem);
  return value;
}

/**
 * A node (host) name: up to 253 characters of dot-separated labels, each following the
 * validateName rules.
 */
export function validateNodeName(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(field, value, 'must be text');
  if (value.length === 0) throw invalid(field, value, 'must not be empty');
  if (value.length > NODE_NAME_MAX) {
    throw invalid(field, value, `is ${value.length} characters long, at most ${NODE_NAME_MAX} allowed`);
  }
  const labels = value.split('.');
  for (const label of labels) {
    if (label.length === 0) throw invalid(field, value, "has an empty label (leading, trailing or doubled '.')");
    const problem = labelProblem(label, "lowercase letters, digits, '-' and '.'");
    if (problem !== undefined) {
      throw invalid(field, value, labels.length > 1 ? `label ${JSON.stringify(label)} ${problem}` : problem);
    }
  }
  return value;
}
