import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * A small renderer for Helm charts, for machines without `helm` (Debian has no package and the npm
 * wrappers download the binary at install time). It implements the part of Go's text/template and
 * Helm's functions that deploy/helm/cdc-cache uses, with Go's semantics (whitespace trimming, map
 * keys in sorted order, truthiness, `$`, variables, pipelines) and fails loudly on anything else: an
 * unknown function, a field of nil, an unclosed block. When `helm` is installed, the test runs
 * `helm lint` and `helm template` as well.
 */

type Value = unknown;

interface TextNode {
  kind: 'text';
  text: string;
}
interface ActionNode {
  kind: 'action';
  pipe: Pipeline;
}
interface IfNode {
  kind: 'if';
  branches: { cond: Pipeline; body: Node[] }[];
  otherwise: Node[];
}
interface RangeNode {
  kind: 'range';
  pipe: Pipeline;
  body: Node[];
  otherwise: Node[];
}
interface WithNode {
  kind: 'with';
  pipe: Pipeline;
  body: Node[];
  otherwise: Node[];
}
interface TemplateNode {
  kind: 'template';
  name: string;
  pipe: Pipeline | null;
}
type Node = TextNode | ActionNode | IfNode | RangeNode | WithNode | TemplateNode;

interface Pipeline {
  decl: string[];
  commands: Operand[][];
}
type Operand =
  | { kind: 'literal'; value: Value }
  | { kind: 'field'; base: 'dot' | string; path: string[] }
  | { kind: 'func'; name: string }
  | { kind: 'sub'; pipe: Pipeline; path: string[] };

export class TemplateError extends Error {}

// ---- lexing ---------------------------------------------------------------------------------

interface Token {
  kind: 'text' | 'action';
  text: string;
  where: string;
}

function lex(source: string, file: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  let trimNext = false;
  const lineOf = (offset: number) => source.slice(0, offset).split('\n').length;
  while (at < source.length) {
    const open = source.indexOf('{{', at);
    let text = source.slice(at, open === -1 ? source.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open === -1) {
      tokens.push({ kind: 'text', text, where: file });
      break;
    }
    const trimBefore = source.startsWith('{{- ', open) || source.startsWith('{{-\n', open);
    if (trimBefore) text = text.replace(/\s+$/, '');
    tokens.push({ kind: 'text', text, where: file });
    let close = open + 2;
    let quote: string | null = null;
    // A comment may hold anything (quotes included) up to its closing */.
    const comment = /^\{\{-?\s*\/\*/.exec(source.slice(open, open + 8));
    if (comment) close = source.indexOf('*/', open) === -1 ? source.length : source.indexOf('*/', open) + 2;
    for (; close < source.length; close++) {
      const c = source[close]!;
      if (quote) {
        if (c === '\\' && quote === '"') close++;
        else if (c === quote) quote = null;
      } else if (c === '"' || c === '`') quote = c;
      else if (source.startsWith('}}', close)) break;
    }
    if (close >= source.length) throw new TemplateError(`${file}:${lineOf(open)}: unclosed action`);
    let body = source.slice(open + 2, close);
    if (trimBefore) body = body.slice(1);
    if (body.endsWith(' -') || body.endsWith('\n-')) {
      body = body.slice(0, -2);
      trimNext = true;
    }
    tokens.push({ kind: 'action', text: body.trim(), where: `${file}:${lineOf(open)}` });
    at = close + 2;
  }
  return tokens;
}

// ---- parsing --------------------------------------------------------------------------------

/** Splits at top-level separators (outside strings and parentheses). */
function splitTop(text: string, separator: (c: string) => boolean): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && separator(c)) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function parsePipeline(text: string, where: string): Pipeline {
  let decl: string[] = [];
  const declaration = /^(\$\w*(?:\s*,\s*\$\w*)?)\s*:=\s*([\s\S]*)$/.exec(text);
  let rest = text;
  if (declaration) {
    decl = declaration[1]!.split(',').map((v) => v.trim());
    rest = declaration[2]!;
  }
  const commands = splitTop(rest, (c) => c === '|').map((command) =>
    splitTop(command, (c) => /\s/.test(c)).map((operand) => parseOperand(operand, where)),
  );
  if (commands.length === 0) throw new TemplateError(`${where}: empty pipeline in {{${text}}}`);
  return { decl, commands };
}

function parseOperand(text: string, where: string): Operand {
  if (text.startsWith('"')) return { kind: 'literal', value: JSON.parse(text) };
  if (text.startsWith('`')) return { kind: 'literal', value: text.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(text)) return { kind: 'literal', value: Number(text) };
  if (text === 'true' || text === 'false') return { kind: 'literal', value: text === 'true' };
  if (text === 'nil') return { kind: 'literal', value: null };
  if (text.startsWith('(')) {
    const end = text.lastIndexOf(')');
    const path = text
      .slice(end + 1)
      .split('.')
      .filter((p) => p !== '');
    return { kind: 'sub', pipe: parsePipeline(text.slice(1, end), where), path };
  }
  if (text === '.') return { kind: 'field', base: 'dot', path: [] };
  if (text.startsWith('.')) return { kind: 'field', base: 'dot', path: text.slice(1).split('.') };
  if (text.startsWith('$')) {
    const [name, ...path] = text.split('.');
    return { kind: 'field', base: name!, path };
  }
  if (/^[A-Za-z_]\w*$/.test(text)) return { kind: 'func', name: text };
  throw new TemplateError(`${where}: cannot parse "${text}"`);
}

function parse_(tokens: Token[], defines: Map<string, Node[]>): Node[] {
  let at = 0;
  const block = (terminators: string[]): { nodes: Node[]; end: string; where: string } => {
    const nodes: Node[] = [];
    while (at < tokens.length) {
      const token = tokens[at++]!;
      if (token.kind === 'text') {
        if (token.text !== '') nodes.push({ kind: 'text', text: token.text });
        continue;
      }
      const body = token.text;
      if (body.startsWith('/*')) {
        if (!body.endsWith('*/')) throw new TemplateError(`${token.where}: unclosed comment`);
        continue;
      }
      const [keyword] = body.split(/\s/, 1);
      const rest = body.slice(keyword!.length).trim();
      if (terminators.includes(keyword!) || (keyword === 'else' && terminators.includes('else'))) {
        return { nodes, end: body, where: token.where };
      }
      switch (keyword) {
        case 'if': {
          const node: IfNode = { kind: 'if', branches: [], otherwise: [] };
          let cond = parsePipeline(rest, token.where);
          for (;;) {
            const inner = block(['else', 'end']);
            node.branches.push({ cond, body: inner.nodes });
            if (inner.end === 'end') break;
            const elseIf = /^else\s+if\s+([\s\S]+)$/.exec(inner.end);
            if (elseIf) {
              cond = parsePipeline(elseIf[1]!, inner.where);
              continue;
            }
            node.otherwise = expectEnd(block(['end']), inner.where).nodes;
            break;
          }
          nodes.push(node);
          break;
        }
        case 'range':
        case 'with': {
          const pipe = parsePipeline(rest, token.where);
          const inner = block(['else', 'end']);
          const otherwise = inner.end === 'end' ? [] : expectEnd(block(['end']), inner.where).nodes;
          nodes.push({ kind: keyword, pipe, body: inner.nodes, otherwise });
          break;
        }
        case 'define': {
          const name = JSON.parse(rest) as string;
          defines.set(name, expectEnd(block(['end']), token.where).nodes);
          break;
        }
        case 'template': {
          const match = /^("(?:[^"\\]|\\.)*")\s*([\s\S]*)$/.exec(rest);
          if (!match) throw new TemplateError(`${token.where}: bad template call`);
          const name = JSON.parse(match[1]!) as string;
          nodes.push({
            kind: 'template',
            name,
            pipe: match[2] ? parsePipeline(match[2], token.where) : null,
          });
          break;
        }
        case 'end':
        case 'else':
          throw new TemplateError(`${token.where}: unexpected {{${body}}}`);
        case 'block':
        case 'break':
        case 'continue':
          throw new TemplateError(`${token.where}: {{${keyword}}} is not supported by this renderer`);
        default:
          nodes.push({ kind: 'action', pipe: parsePipeline(body, token.where) });
      }
    }
    if (terminators.length > 0)
      throw new TemplateError(`missing {{end}} (expected ${terminators.join('/')})`);
    return { nodes, end: '', where: '' };
  };
  const expectEnd = (result: { nodes: Node[]; end: string; where: string }, where: string) => {
    if (result.end !== 'end') throw new TemplateError(`${where}: expected {{end}}, found {{${result.end}}}`);
    return result;
  };
  return block([]).nodes;
}

// ---- evaluation -----------------------------------------------------------------------------

function truth(value: Value): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

function text(value: Value): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TemplateError(`cannot print ${JSON.stringify(value)} as text (use toYaml)`);
}

function toYaml(value: Value): string {
  if (value === null || value === undefined) return 'null';
  return stringify(value, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, '');
}

function indentLines(spaces: number, value: string): string {
  const pad = ' '.repeat(spaces);
  return value
    .split('\n')
    .map((line) => pad + line)
    .join('\n');
}

function printf(format: string, ...args: Value[]): string {
  let index = 0;
  return format.replace(/%[sdvq%]/g, (verb) => {
    if (verb === '%%') return '%';
    const arg = args[index++];
    return verb === '%q' ? JSON.stringify(text(arg)) : text(arg);
  });
}

interface Scope {
  dot: Value;
  vars: Map<string, Value>;
}

export class ChartRenderer {
  private readonly defines = new Map<string, Node[]>();
  private readonly files = new Map<string, Node[]>();

  constructor(templates: Map<string, string>) {
    for (const [name, source] of templates) this.files.set(name, parse_(lex(source, name), this.defines));
  }

  render(file: string, context: Record<string, Value>): string {
    const nodes = this.files.get(file);
    if (!nodes) throw new TemplateError(`no template ${file}`);
    return this.run(nodes, { dot: context, vars: new Map([['$', context]]) });
  }

  private run(nodes: Node[], scope: Scope): string {
    let out = '';
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          out += node.text;
          break;
        case 'action': {
          const value = this.pipe(node.pipe, scope);
          if (node.pipe.decl.length === 0) out += text(value);
          break;
        }
        case 'if': {
          const branch = node.branches.find((b) => truth(this.pipe(b.cond, scope)));
          out += this.run(branch ? branch.body : node.otherwise, scope);
          break;
        }
        case 'with': {
          const value = this.pipe(node.pipe, scope);
          out += truth(value)
            ? this.run(node.body, { dot: value, vars: new Map(scope.vars) })
            : this.run(node.otherwise, scope);
          break;
        }
        case 'range': {
          const collection = this.pipe({ decl: [], commands: node.pipe.commands }, scope);
          const entries: [Value, Value][] = Array.isArray(collection)
            ? collection.map((v, i) => [i, v])
            : collection && typeof collection === 'object'
              ? Object.keys(collection)
                  .sort()
                  .map((k) => [k, (collection as Record<string, Value>)[k]])
              : [];
          if (entries.length === 0) out += this.run(node.otherwise, scope);
          for (const [key, value] of entries) {
            const vars = new Map(scope.vars);
            const decl = node.pipe.decl;
            if (decl.length === 1) vars.set(decl[0]!, value);
            if (decl.length === 2) {
              vars.set(decl[0]!, key);
              vars.set(decl[1]!, value);
            }
            out += this.run(node.body, { dot: value, vars });
          }
          break;
        }
        case 'template': {
          const body = this.defines.get(node.name);
          if (!body) throw new TemplateError(`no template "${node.name}"`);
          const dot = node.pipe ? this.pipe(node.pipe, scope) : null;
          out += this.run(body, { dot, vars: new Map([['$', dot]]) });
          break;
        }
      }
    }
    return out;
  }

  private pipe(pipe: Pipeline, scope: Scope): Value {
    let value: Value;
    let piped = false;
    for (const command of pipe.commands) {
      value = this.command(command, scope, piped ? [value] : []);
      piped = true;
    }
    if (pipe.decl.length === 1) scope.vars.set(pipe.decl[0]!, value);
    return value;
  }

  private command(operands: Operand[], scope: Scope, piped: Value[]): Value {
    const [first, ...rest] = operands;
    if (first?.kind === 'func') {
      const args = [...rest.map((operand) => this.operand(operand, scope)), ...piped];
      return this.call(first.name, args);
    }
    if (operands.length !== 1 || piped.length > 0) {
      throw new TemplateError(`cannot call a value with arguments: ${JSON.stringify(operands)}`);
    }
    return this.operand(first!, scope);
  }

  private operand(operand: Operand, scope: Scope): Value {
    switch (operand.kind) {
      case 'literal':
        return operand.value;
      case 'func':
        return this.call(operand.name, []);
      case 'sub':
        return walk(this.pipe(operand.pipe, scope), operand.path, '(...)');
      case 'field': {
        if (operand.base === 'dot') return walk(scope.dot, operand.path, '.');
        if (!scope.vars.has(operand.base)) throw new TemplateError(`undefined variable ${operand.base}`);
        return walk(scope.vars.get(operand.base), operand.path, operand.base);
      }
    }
  }

  private call(name: string, args: Value[]): Value {
    const str = (v: Value) => text(v);
    switch (name) {
      case 'include': {
        const body = this.defines.get(str(args[0]));
        if (!body) throw new TemplateError(`include: no template "${str(args[0])}"`);
        return this.run(body, { dot: args[1], vars: new Map([['$', args[1]]]) });
      }
      case 'toYaml':
        return toYaml(args[0]);
      case 'nindent':
        return `\n${indentLines(Number(args[0]), str(args[1]))}`;
      case 'indent':
        return indentLines(Number(args[0]), str(args[1]));
      case 'quote':
        return args.map((a) => JSON.stringify(str(a))).join(' ');
      case 'toString':
        return str(args[0]);
      case 'default':
        return truth(args[1]) ? args[1] : args[0];
      case 'required':
        if (!truth(args[1])) throw new TemplateError(`required: ${str(args[0])}`);
        return args[1];
      case 'upper':
        return str(args[0]).toUpperCase();
      case 'lower':
        return str(args[0]).toLowerCase();
      case 'trunc':
        return str(args[1]).slice(0, Number(args[0]));
      case 'trimSuffix': {
        const suffix = str(args[0]);
        const value = str(args[1]);
        return suffix && value.endsWith(suffix) ? value.slice(0, -suffix.length) : value;
      }
      case 'sha256sum':
        return createHash('sha256').update(str(args[0])).digest('hex');
      case 'printf':
        return printf(str(args[0]), ...args.slice(1));
      case 'print':
        return args.map(str).join('');
      case 'eq':
        return args.slice(1).some((a) => a === args[0]);
      case 'ne':
        return args[0] !== args[1];
      case 'not':
        return !truth(args[0]);
      case 'and':
        return args.reduce((acc, a) => (truth(acc) ? a : acc));
      case 'or':
        return args.reduce((acc, a) => (truth(acc) ? acc : a));
      case 'empty':
        return !truth(args[0]);
      default:
        throw new TemplateError(`function "${name}" is not supported by this renderer`);
    }
  }
}

function walk(value: Value, path: string[], from: string): Value {
  let current = value;
  let where = from;
  for (const key of path) {
    if (current === null || current === undefined) {
      throw new TemplateError(`nil pointer evaluating ${where}.${key}`);
    }
    if (typeof current !== 'object') throw new TemplateError(`${where} is not a map: cannot read .${key}`);
    current = (current as Record<string, Value>)[key];
    where = `${where}.${key}`;
  }
  return current;
}

// ---- charts ---------------------------------------------------------------------------------

function isPlainObject(value: Value): value is Record<string, Value> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Helm's coalescing of values: maps merge key by key, anything else replaces. */
export function mergeValues(base: Value, override: Value): Value {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const merged: Record<string, Value> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = mergeValues(base[key], value);
  return merged;
}

export interface RenderedChart {
  /** Template file (templates/...) -> rendered text, partials (_*.tpl) left out. */
  files: Map<string, string>;
  /** Every non-empty YAML document of the manifests (NOTES.txt left out). */
  objects: Record<string, unknown>[];
}

export function renderChart(
  chartDir: string,
  options: { releaseName?: string; namespace?: string; values?: Record<string, Value> } = {},
): RenderedChart {
  const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, Value>;
  const defaults = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, Value>;
  const values = mergeValues(defaults, options.values ?? {});
  const templateDir = join(chartDir, 'templates');
  const sources = new Map<string, string>();
  for (const name of readdirSync(templateDir).sort()) {
    sources.set(`templates/${name}`, readFileSync(join(templateDir, name), 'utf8'));
  }
  const renderer = new ChartRenderer(sources);
  const capitalized = Object.fromEntries(
    Object.entries(chart).map(([key, value]) => [key.charAt(0).toUpperCase() + key.slice(1), value]),
  );
  const releaseName = options.releaseName ?? 'release-name';
  const context = {
    Values: values,
    Chart: capitalized,
    Release: {
      Name: releaseName,
      Namespace: options.namespace ?? 'default',
      Service: 'Helm',
      IsInstall: true,
      IsUpgrade: false,
      Revision: 1,
    },
    Capabilities: { KubeVersion: { Version: 'v1.30.0', Major: '1', Minor: '30' } },
    Template: { BasePath: `${chart.name as string}/templates` },
  };
  const files = new Map<string, string>();
  const objects: Record<string, unknown>[] = [];
  for (const file of sources.keys()) {
    const base = file.slice('templates/'.length);
    if (base.startsWith('_')) continue;
    const output = renderer.render(file, { ...context, Template: { ...context.Template, Name: file } });
    files.set(file, output);
    if (base === 'NOTES.txt') continue;
    for (const document of output.split(/^---\s*$/m)) {
      const object = parse(document) as Record<string, unknown> | null;
      if (object !== null && object !== undefined) objects.push(object);
    }
  }
  return { files, objects };
}
