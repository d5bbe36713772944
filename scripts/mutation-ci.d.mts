// Types of scripts/mutation-ci.mjs, for its test.

export declare const configurationFiles: string[];
export declare function includePatterns(configText: string): string[];
export declare function expandPattern(pattern: string, list?: (dir: string) => string[]): string[];
export declare function reasonToRun(input: {
  incremental: { files?: Record<string, { source: string }>; testFiles?: Record<string, { source: string }> };
  testFiles: readonly string[];
  read: (file: string) => string | undefined;
  configurationChanged: readonly string[];
}): string | undefined;
