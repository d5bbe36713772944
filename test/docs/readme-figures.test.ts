import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { orderSummary } from '../../src/order/contract';
import { parseItem } from '../../src/cli/order-flags';

// What the README quotes that the code or another document decides: the Web UI summary of the order its
// client section starts, and the day its performance figures were measured.

const root = resolve(__dirname, '..', '..');
const readme = readFileSync(resolve(root, 'README.md'), 'utf8');

describe('the README', () => {
  it('quotes the Web UI summary the app writes for the order o-17 it starts', () => {
    const command = /npm run client -- order (?:.*\\\n)*.*--order-id o-17/.exec(readme)?.[0] ?? '';
    const items = [...command.matchAll(/--item (\S+)/g)].map((m) => parseItem(m[1]!));
    expect(items).toHaveLength(2);
    const summary = orderSummary({ orderId: 'o-17', items });
    expect(summary).toBe('Order o-17: 3 items, 89.97 EUR');
    expect(readme).toContain(`("${summary}")`);
    expect(readme).not.toMatch(/Order o-17: 3 items, (?!89\.97)/);
  });

  it('dates its performance figures with the day of the BENCHMARKS.md run they come from', () => {
    const benchmarks = readFileSync(resolve(root, 'BENCHMARKS.md'), 'utf8');
    const runDay = /Full run \(`npm run bench`\), (\d{1,2} \w+ \d{4})/.exec(benchmarks)?.[1];
    expect(runDay).toBeDefined();
    const performance = readme.split('## Performance')[1]?.split('\n## ')[0] ?? '';
    expect(performance.replace(/\s+/g, ' ')).toContain(`full run of ${runDay}`);
  });

  it('has no line left starting with a stray word of an edit', () => {
    expect(readme.split('\n').filter((line) => /^update\.\s/.test(line))).toEqual([]);
  });
});
