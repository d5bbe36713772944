// `npm run codec-server`: the codec server process, configured by its environment, running until
// SIGINT or SIGTERM. The server itself is `src/codec/server.ts`.
import { ConfigError } from './config';
import { AesGcmPayloadCodec } from './codec';
import { createCodecServer, stderrLogger } from './codec/server';
import { loadCodecServerConfig } from './codec/server-config';
import { newToken } from './codec/token-strength';

async function main(): Promise<void> {
  // `--new-token` prints a token fit for SAGA_CODEC_SERVER_TOKEN (or the encode token) and exits.
  if (process.argv.includes('--new-token')) {
    process.stdout.write(`${newToken()}\n`);
    return;
  }
  const config = loadCodecServerConfig();
  const codecServer = createCodecServer({
    codec: new AesGcmPayloadCodec(config.codec.keyRing),
    token: config.token,
    ...(config.encodeToken ? { encodeToken: config.encodeToken } : {}),
    allowedOrigins: config.allowedOrigins,
    namespace: config.namespace,
  });
  const url = await codecServer.listen(config.port, config.host);
  stderrLogger.info('Codec server listening', {
    url,
    namespace: config.namespace,
    allowedOrigins: config.allowedOrigins,
    activeKeyId: config.codec.keyRing.activeKeyId,
    keyIds: config.codec.keyRing.keyIds,
    encoding: config.encodeToken ? 'on, with SAGA_CODEC_SERVER_ENCODE_TOKEN' : 'off (set SAGA_CODEC_SERVER_ENCODE_TOKEN)',
  });
  await new Promise<void>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      stderrLogger.info('Codec server stopping', { signal });
      void codecServer.stop().then(resolve);
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
  stderrLogger.info('Codec server stopped');
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : `Codec server failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
