import { readFileSync } from 'node:fs';

// The runnable shell blocks of the documentation. A block runs when the line just above its fence is
// an HTML comment (invisible once rendered) starting with `doc-test`:
//
//   <!-- doc-test -->                         run the ```sh block below, in order, in one shell session
//   <!-- doc-test: until 60s -->              run it again until it passes, for up to 60 s (for
//                                              "within a minute" and other eventually consistent steps)
//   <!-- doc-test: worker A=1 B=2 -->         (re)start the stack's worker with these variables first,
//                                              as the prose around the block asks a reader to do
//   <!-- doc-test: output -->                 the fenced block below shows output: each of its
//                                              non-blank lines must appear in the previous block's output
//
// Words combine in one comment: `<!-- doc-test: worker SAGA_FAULTS={…} until 60s -->`. Variables of a
// `worker` word hold no spaces.

/** One runnable block of a Markdown file. */
export interface DocBlock {
  /** The file, relative to the repository root. */
  file: string;
  /** Line of the opening fence, counted from 1. */
  line: number;
  /** The shell commands. */
  code: string;
  /** Lines its output must contain, from the output block that follows it. @default none */
  expected: string[];
  /** Variables to restart the worker with before the block runs; undefined to keep the worker as it is. */
  worker: Record<string, string> | undefined;
  /** How long to keep running it until it passes, in ms. @default 0 (once) */
  untilMs: number;
}

/** Thrown when a doc-test marker is malformed, naming the file and line. */
export class DocMarkerError extends Error {
  override readonly name = 'DocMarkerError';
}

const MARKER = /^<!--\s*doc-test(?::\s*(.*?))?\s*-->\s*$/;

/** The runnable blocks of the Markdown file `file` (relative to `root`), in the order they appear. */
export function runnableBlocks(root: string, file: string): DocBlock[] {
  const lines = readFileSync(`${root}/${file}`, 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec(lines[i]!.trim());
    if (!marker) continue;
    const fenceLine = i + 2;
    const where = `${file}:${fenceLine}`;
    const fence = lines[i + 1]?.trim() ?? '';
    if (!fence.startsWith('```')) throw new DocMarkerError(`${file}:${i + 1}: a doc-test marker must sit on the line just above a fenced block`);
    const end = lines.findIndex((l, at) => at > i + 1 && l.trim() === '```');
    if (end < 0) throw new DocMarkerError(`${where}: the fenced block never closes`);
    const body = lines.slice(i + 2, end);
    i = end;
    const words = (marker[1] ?? '').split(/\s+/).filter(Boolean);
    if (words[0] === 'output') {
      const previous = blocks.at(-1);
      if (!previous || words.length > 1) throw new DocMarkerError(`${where}: an output block follows a runnable block and takes no other word`);
      previous.expected.push(...body.map((l) => l.trim()).filter(Boolean));
      continue;
    }
    if (!/^```(sh|bash)\b/.test(fence)) throw new DocMarkerError(`${where}: only sh or bash blocks run`);
    const block: DocBlock = { file, line: fenceLine, code: body.join('\n'), expected: [], worker: undefined, untilMs: 0 };
    for (let w = 0; w < words.length; w++) {
      const word = words[w]!;
      if (word === 'worker') {
        block.worker = {};
        while (w + 1 < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[w + 1]!)) {
          const [name, ...value] = words[++w]!.split('=');
          block.worker[name!] = value.join('=');
        }
      } else if (word === 'until' && /^\d+s$/.test(words[w + 1] ?? '')) {
        block.untilMs = Number(words[++w]!.slice(0, -1)) * 1000;
      } else {
        throw new DocMarkerError(`${where}: unknown doc-test word "${word}" (known: output, worker NAME=value…, until <n>s)`);
      }
    }
    blocks.push(block);
  }
  return blocks;
}
