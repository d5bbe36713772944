import { UsageError } from './errors';

// The bulk repair ANDs the operator's visibility query with a filter of its own, `(<query>) AND
// <filter>`. A query that closes the parenthesis early (`… = 'x') OR (…`) or comments the rest out
// would escape that filter and reach sagas that are running or done. So the query must be one
// balanced expression: every parenthesis closed within it, every quote ended, no comment, no second
// statement. Quoted text may hold any of these characters.

/** Thrown when `--query` is not one balanced expression; says what and where, not the query. */
export class UnbalancedQueryError extends UsageError {
  constructor(
    readonly problem: string,
    readonly position: number,
    command: string,
  ) {
    super(`--query must be one filter expression: ${problem} (at character ${position + 1})`, command);
  }
}

const QUOTES = new Set(["'", '"', '`']);

/** Throws {@link UnbalancedQueryError} unless `query` is one balanced expression. */
export function assertOneExpression(query: string, command: string): void {
  let depth = 0;
  let quote: string | undefined;
  let quoteStart = 0;
  const opened: number[] = [];
  for (let i = 0; i < query.length; i++) {
    const ch = query[i]!;
    if (quote !== undefined) {
      if (ch === '\\') i++;
      else if (ch === quote && query[i + 1] === quote) i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (QUOTES.has(ch)) {
      quote = ch;
      quoteStart = i;
    } else if (ch === '(') {
      depth++;
      opened.push(i);
    } else if (ch === ')') {
      if (depth === 0) throw new UnbalancedQueryError('it closes a parenthesis it did not open', i, command);
      depth--;
      opened.pop();
    } else if ((ch === '-' && query[i + 1] === '-') || (ch === '/' && query[i + 1] === '*') || ch === '#') {
      throw new UnbalancedQueryError('comments are not allowed', i, command);
    } else if (ch === ';') {
      throw new UnbalancedQueryError('it may not end or add a statement', i, command);
    }
  }
  if (quote !== undefined) throw new UnbalancedQueryError(`the quote ${quote} is never closed`, quoteStart, command);
  if (depth > 0) throw new UnbalancedQueryError('a parenthesis is never closed', opened.at(-1)!, command);
}

/**
 * The server's complaint about a query, told in terms of the user's `--query`. The server counts its
 * "position" in the query it finally runs (the client's type filter and its own prefix included), a
 * place the user never typed: it is dropped, and the token it names located in the user's text when
 * it occurs there once.
 */
export function inUserTerms(why: string, userQuery: string | undefined): string {
  const withoutPosition = why.replace(/ at position \d+/, '');
  const near = /near '([^']+)'/.exec(withoutPosition)?.[1];
  if (!userQuery || near === undefined) return withoutPosition;
  const at = userQuery.indexOf(near);
  return at >= 0 && userQuery.indexOf(near, at + 1) < 0 ? withoutPosition.replace(`near '${near}'`, `near '${near}' (at character ${at + 1} of --query)`) : withoutPosition;
}
