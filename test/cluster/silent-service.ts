// A broker service that never prints its ready line: it runs until it is stopped, for the tests of how
// long a stack waits for one.
process.on('SIGTERM', () => process.exit(0));
setInterval(() => undefined, 60_000);
