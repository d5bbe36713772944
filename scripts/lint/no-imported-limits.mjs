// ESLint rule `tests/no-imported-limits`: a test may not import an upper-case constant from the product
// code (`src/`, `packages/*/src`, or a package by its `@saga-temporal/` name). Such a constant is
// almost always a limit or a default, and a test that computes its input from the constant follows any
// change to it: the promise the number makes to users is then tested by nothing. The test writes the
// number instead, at the production value, from both sides of the limit.
//
// The few upper-case exports that are not limits (names on the wire, fixtures, lists of names) are
// allowed through the rule's `allow` option, each with the reason it is safe to import.
import { dirname, relative, resolve, sep } from 'node:path';

const UPPER_CASE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$|^[A-Z]{2,}[0-9]*$/;

/** True when `source`, imported from `filename`, names product code rather than a test helper. */
function isProductCode(source, filename, root) {
  if (source.startsWith('@saga-temporal/')) return true;
  if (!source.startsWith('.')) return false;
  const path = relative(root, resolve(dirname(filename), source)).split(sep);
  if (path[0] === 'src') return true;
  return path[0] === 'packages' && path[2] === 'src';
}

/** @type {import('eslint').Rule.RuleModule} */
export const noImportedLimits = {
  meta: {
    type: 'problem',
    docs: { description: 'A test writes the limits and defaults it checks; it does not import them from the product code.' },
    schema: [
      {
        type: 'object',
        properties: { allow: { type: 'object', additionalProperties: { type: 'string', minLength: 1 } } },
        additionalProperties: false,
      },
    ],
    messages: {
      imported:
        "'{{name}}' is an upper-case constant of the product code: write its value in the test, at the production default, from both sides of the limit (or allow it in eslint.config.mjs with the reason it is not a limit).",
    },
  },
  create(context) {
    const allow = context.options[0]?.allow ?? {};
    const root = context.cwd;
    const namespaces = new Set();
    const report = (node, name) => {
      if (UPPER_CASE.test(name) && !Object.hasOwn(allow, name)) context.report({ node, messageId: 'imported', data: { name } });
    };
    return {
      ImportDeclaration(node) {
        if (!isProductCode(node.source.value, context.filename, root)) return;
        for (const specifier of node.specifiers) {
          if (specifier.type === 'ImportSpecifier') {
            const name = specifier.imported.type === 'Identifier' ? specifier.imported.name : specifier.imported.value;
            report(specifier, name);
          } else if (specifier.type === 'ImportNamespaceSpecifier') {
            namespaces.add(specifier.local.name);
          }
        }
      },
      // `import * as config from '../src/config'` then `config.MAX_ATTEMPTS`.
      MemberExpression(node) {
        if (node.object.type === 'Identifier' && namespaces.has(node.object.name) && !node.computed && node.property.type === 'Identifier') {
          report(node.property, node.property.name);
        }
      },
    };
  },
};

export default { rules: { 'no-imported-limits': noImportedLimits } };
