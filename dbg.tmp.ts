import { checkWebUi } from './scripts/webui-check';
(async () => {
  const r = await checkWebUi({ uiUrl: 'http://localhost:18801', namespace: 'default', workflowId: 'order-demo-mwradlgk-4', runId: '01a20154-c45b-70a4-9a71-acc760fdda16', orderId: 'demo-mwradlgk-4', outDir: '/tmp/pw/shots', timeoutMs: 20000 });
  console.log(JSON.stringify(r, null, 1));
})();
