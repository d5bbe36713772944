import { z } from 'zod';

// The operator alert's contract: what a saga sends when a compensation has exhausted its retries.

export const operatorAlertInput = z.object({
  workflowId: z.string().min(1).max(255),
  subject: z.string().trim().min(1).max(1_000),
  body: z.string().min(1).max(100_000),
});
