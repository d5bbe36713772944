// The areas `npm run mutation` covers, each with the files it mutates and its floor in percent. Read by
// stryker.config.mjs (what to mutate) and scripts/mutation-scores.mjs (the score of each area).

/** @type {{ name: string, files: string[], floor: number }[]} */
export const areas = [
  { name: 'engine core', files: ['packages/saga/src/engine.ts', 'packages/saga/src/compensation-stack.ts'], floor: 90 },
  { name: 'barrier', files: ['packages/barrier/src/barrier.ts'], floor: 90 },
  { name: 'payments and stock', files: ['src/services/payments.ts', 'src/services/inventory.ts'], floor: 90 },
  { name: 'saga wrapper and child sagas', files: ['packages/saga/src/saga.ts', 'packages/saga/src/child-saga.ts', 'packages/saga/src/saga-handlers.ts'], floor: 90 },
  { name: 'workflows', files: ['src/order/**/*.ts', 'src/registration/**/*.ts', 'src/operator/**/*.ts'], floor: 90 },
  { name: 'validation', files: ['src/shared/validation.ts'], floor: 90 },
  { name: 'users and mail', files: ['src/services/users.ts', 'src/services/mail.ts', 'src/services/mailbox-limits.ts'], floor: 90 },
  { name: 'codec and its server', files: ['src/codec/**/*.ts'], floor: 90 },
  { name: 'CLI operate commands', files: ['src/cli/commands/operate.ts'], floor: 90 },
];

/** The area a mutated file belongs to: the first whose pattern (a path, or a folder followed by `**`) matches it. */
export function areaOf(file) {
  return areas.find((area) => area.files.some((pattern) => (pattern.includes('**') ? file.startsWith(pattern.slice(0, pattern.indexOf('**'))) : file === pattern)));
}
