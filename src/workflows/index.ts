// The worker's `workflowsPath`: every workflow type the worker registers, by name.
export { orderSaga } from './order';
export { registrationSaga } from './registration';
