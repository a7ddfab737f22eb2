import { ensurePkSkTable } from "../dynamo/pk-sk-table";

/** Creates the sinks table if it does not exist (local runtime and tests; the CDK does this in AWS). */
export const ensureSinksTable = ensurePkSkTable;
