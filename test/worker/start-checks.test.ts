import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporalCli } from '../../tools/temporal-binaries';
import { checkSearchAttributes, MissingSearchAttributeError } from '../../src/worker';

// A dev server started WITHOUT the sagas' search attribute: the worker must refuse to start and say
// how to register it, rather than fail every saga's first workflow task later.
let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await TestWorkflowEnvironment.createLocal({ server: { executable: temporalCli(), extraArgs: ['--log-level', 'error'] } });
});
afterAll(async () => {
  await env?.teardown();
});

describe('worker start checks', () => {
  it('stops with the command that registers SagaStatus when the namespace lacks it', async () => {
    const err = await checkSearchAttributes(env.nativeConnection, { address: env.address, namespace: 'default' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingSearchAttributeError);
    expect((err as MissingSearchAttributeError).missing).toEqual(['SagaStatus']);
    expect((err as Error).message).toContain(`temporal operator search-attribute create --address ${env.address} --namespace default --name SagaStatus --type Keyword`);
  });

  it('passes once the attribute is registered', async () => {
    await env.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: { SagaStatus: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD } });
    await expect(checkSearchAttributes(env.nativeConnection, { address: env.address, namespace: 'default' })).resolves.toBeUndefined();
  });
});
