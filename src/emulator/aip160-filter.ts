/**
 * A subset of AIP-160 list filters, enough to emulate `ListAutomationRuns`.
 *
 * Grammar (AIP-160 precedence: OR binds tighter than AND, juxtaposition means AND):
 *
 *     filter      = [expression]
 *     expression  = sequence { "AND" sequence }
 *     sequence    = factor { factor }
 *     factor      = term { "OR" term }
 *     term        = [ "NOT" | "-" ] simple
 *     simple      = restriction | "(" expression ")"
 *     restriction = field comparator string
 *     comparator  = "=" | "!=" | "<" | "<=" | ">" | ">="
 *
 * Fields are named in snake_case or camelCase; values are double-quoted strings
 * (`\"` and `\\` escape). Timestamp fields take RFC 3339 strings and compare as instants.
 * @see https://google.aip.dev/160
 */

export const COMPARATORS = ['=', '!=', '<', '<=', '>', '>='] as const;
export type Comparator = (typeof COMPARATORS)[number];

export type FieldType =
  | { readonly kind: 'string' }
  | { readonly kind: 'timestamp' }
  | { readonly kind: 'enum'; readonly values: readonly string[] };

/** The filterable fields of a resource, keyed by their snake_case names. */
export type FilterFields = Readonly<Record<string, FieldType>>;

export type FilterValue = string | Date | undefined;

export type FilterExpression =
  | { readonly kind: 'all' }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly FilterExpression[] }
  | { readonly kind: 'not'; readonly operand: FilterExpression }
  | {
      readonly kind: 'compare';
      /** snake_case field name. */
      readonly field: string;
      readonly comparator: Comparator;
      readonly value: string | Date;
    };

/** A filter that cannot be parsed; `position` is the 0-based offset of the problem. */
export class FilterSyntaxError extends Error {
  override readonly name = 'FilterSyntaxError';
  readonly position: number;

  constructor(message: string, position: number) {
    super(`invalid filter at position ${position}: ${message}`);
    this.position = position;
  }
}

type Token =
  | { readonly kind: 'word'; readonly text: string; readonly position: number }
  | { readonly kind: 'string'; readonly text: string; readonly position: number }
  | { readonly kind: 'comparator'; readonly text: Comparator; readonly position: number }
  | { readonly kind: '(' | ')' | '-' | 'end'; readonly position: number };

const KEYWORDS = ['AND', 'OR', 'NOT'] as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;

function readString(text: string, start: number): { value: string; end: number } {
  let value = '';
  let index = start + 1;
  for (;;) {
    if (index >= text.length) throw new FilterSyntaxError('unterminated string', start);
    const next = text.charAt(index);
    if (next === '"') return { value, end: index + 1 };
    if (next === '\\') {
      const escaped = text.charAt(index + 1);
      if (escaped !== '"' && escaped !== '\\') {
        throw new FilterSyntaxError('only \\" and \\\\ may be escaped in a string', index);
      }
      value += escaped;
      index += 2;
    } else {
      value += next;
      index += 1;
    }
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < text.length) {
    const character = text.charAt(index);
    if (/\s/.test(character)) {
      index += 1;
    } else if (character === '(' || character === ')' || character === '-') {
      tokens.push({ kind: character, position: index });
      index += 1;
    } else if (character === '"') {
      const { value, end } = readString(text, index);
      tokens.push({ kind: 'string', text: value, position: index });
      index = end;
    } else if ('=!<>'.includes(character)) {
      const two = text.slice(index, index + 2);
      const pair = (['!=', '<=', '>='] as const).find((candidate) => candidate === two);
      if (pair !== undefined) {
        tokens.push({ kind: 'comparator', text: pair, position: index });
        index += 2;
      } else if (character === '!') {
        throw new FilterSyntaxError('"!" must be followed by "="', index);
      } else {
        tokens.push({ kind: 'comparator', text: character as Comparator, position: index });
        index += 1;
      }
    } else {
      WORD.lastIndex = index;
      const match = WORD.exec(text);
      if (match === null) {
        throw new FilterSyntaxError(`unexpected character "${character}"`, index);
      }
      tokens.push({ kind: 'word', text: match[0], position: index });
      index += match[0].length;
    }
  }
  tokens.push({ kind: 'end', position: text.length });
  return tokens;
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the filter';
    case 'string':
      return `the string "${token.text}"`;
    case 'word':
    case 'comparator':
      return `"${token.text}"`;
    default:
      return `"${token.kind}"`;
  }
}

function combine(kind: 'and' | 'or', operands: FilterExpression[]): FilterExpression {
  const [first] = operands;
  return operands.length === 1 && first !== undefined ? first : { kind, operands };
}

function literalValue(
  name: string,
  type: FieldType,
  text: string,
  position: number,
): string | Date {
  if (type.kind === 'timestamp') {
    const instant = RFC3339.test(text) ? new Date(text) : undefined;
    if (instant === undefined || Number.isNaN(instant.getTime())) {
      throw new FilterSyntaxError(`"${name}" takes an RFC 3339 timestamp, not "${text}"`, position);
    }
    return instant;
  }
  if (type.kind === 'enum' && !type.values.includes(text)) {
    throw new FilterSyntaxError(
      `"${text}" is not a value of "${name}" (one of ${type.values.join(', ')})`,
      position,
    );
  }
  return text;
}

class Parser {
  private index = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly fields: FilterFields,
  ) {}

  parse(): FilterExpression {
    if (this.peek().kind === 'end') return { kind: 'all' };
    const expression = this.expression();
    const rest = this.peek();
    if (rest.kind !== 'end') {
      throw new FilterSyntaxError(`unexpected ${describe(rest)}`, rest.position);
    }
    return expression;
  }

  private peek(): Token {
    // The token list always ends with `end`, and `next` never moves past it.
    return this.tokens[this.index] ?? { kind: 'end', position: 0 };
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index += 1;
    return token;
  }

  private atKeyword(keyword: (typeof KEYWORDS)[number]): boolean {
    const token = this.peek();
    return token.kind === 'word' && token.text === keyword;
  }

  private expression(): FilterExpression {
    const operands = [this.sequence()];
    while (this.atKeyword('AND')) {
      this.next();
      operands.push(this.sequence());
    }
    return combine('and', operands);
  }

  private sequence(): FilterExpression {
    const operands = [this.factor()];
    while (this.startsTerm()) operands.push(this.factor());
    return combine('and', operands);
  }

  private startsTerm(): boolean {
    const token = this.peek();
    if (token.kind === '(' || token.kind === '-') return true;
    return token.kind === 'word' && token.text !== 'AND' && token.text !== 'OR';
  }

  private factor(): FilterExpression {
    const operands = [this.term()];
    while (this.atKeyword('OR')) {
      this.next();
      operands.push(this.term());
    }
    return combine('or', operands);
  }

  private term(): FilterExpression {
    if (this.peek().kind === '-' || this.atKeyword('NOT')) {
      this.next();
      return { kind: 'not', operand: this.simple() };
    }
    return this.simple();
  }

  private simple(): FilterExpression {
    const token = this.next();
    if (token.kind === '(') {
      const inner = this.expression();
      const close = this.next();
      if (close.kind !== ')') {
        throw new FilterSyntaxError(`expected ")" but found ${describe(close)}`, close.position);
      }
      return inner;
    }
    if (token.kind !== 'word' || (KEYWORDS as readonly string[]).includes(token.text)) {
      throw new FilterSyntaxError(
        `expected a field name but found ${describe(token)}`,
        token.position,
      );
    }
    return this.restriction(token.text, token.position);
  }

  private restriction(name: string, position: number): FilterExpression {
    const field = snakeCase(name);
    const type = this.fields[field];
    if (type === undefined) {
      const known = Object.keys(this.fields).join(', ');
      throw new FilterSyntaxError(`unknown field "${name}" (filterable: ${known})`, position);
    }
    const comparator = this.next();
    if (comparator.kind !== 'comparator') {
      throw new FilterSyntaxError(
        `expected a comparator (${COMPARATORS.join(' ')}) after "${name}" but found ${describe(comparator)}`,
        comparator.position,
      );
    }
    const literal = this.next();
    if (literal.kind !== 'string') {
      throw new FilterSyntaxError(
        `expected a double-quoted value after "${name} ${comparator.text}" but found ${describe(literal)}`,
        literal.position,
      );
    }
    return {
      kind: 'compare',
      field,
      comparator: comparator.text,
      value: literalValue(name, type, literal.text, literal.position),
    };
  }
}

/** Parses a filter against the given fields; an empty filter matches everything. */
export function parseFilter(text: string, fields: FilterFields): FilterExpression {
  return new Parser(tokenize(text), fields).parse();
}

function compare(actual: FilterValue, comparator: Comparator, expected: string | Date): boolean {
  // An unset field equals nothing; a timestamp only compares with an instant.
  if (actual === undefined || actual instanceof Date !== expected instanceof Date) {
    return comparator === '!=';
  }
  const left = actual instanceof Date ? actual.getTime() : actual;
  const right = expected instanceof Date ? expected.getTime() : expected;
  switch (comparator) {
    case '=':
      return left === right;
    case '!=':
      return left !== right;
    case '<':
      return left < right;
    case '<=':
      return left <= right;
    case '>':
      return left > right;
    case '>=':
      return left >= right;
  }
}

/** Evaluates a parsed filter; `fieldValue` reads a field (by snake_case name) of the resource. */
export function evaluateFilter(
  expression: FilterExpression,
  fieldValue: (field: string) => FilterValue,
): boolean {
  switch (expression.kind) {
    case 'all':
      return true;
    case 'and':
      return expression.operands.every((operand) => evaluateFilter(operand, fieldValue));
    case 'or':
      return expression.operands.some((operand) => evaluateFilter(operand, fieldValue));
    case 'not':
      return !evaluateFilter(expression.operand, fieldValue);
    case 'compare':
      return compare(fieldValue(expression.field), expression.comparator, expression.value);
  }
}
