// The worker's `workflowsPath`: every workflow type the worker registers, by name.
export { orderSaga } from './order/workflow';
export { registrationSaga } from './registration/workflow';
export { reconcileSaga, reconcileSweep } from './reconciler/workflow';
