// Plain text for the terminal and links into the Web UI, shared by the CLI and the scripts. Pure
// functions of their input, so tests can pin them and `--watch` can compare frames.

/** Aligns rows under a header; the last column is not padded, and cells are cut at `maxCell` characters. @default maxCell 72 */
export function table(header: readonly string[], rows: readonly (readonly string[])[], maxCell = 72): string {
  const cut = (s: string) => (s.length > maxCell ? `${s.slice(0, maxCell - 1)}…` : s);
  const all = [header, ...rows].map((row) => row.map((cell) => cut(cell.replace(/\s+/g, ' '))));
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Link to a workflow in the Web UI. */
export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
