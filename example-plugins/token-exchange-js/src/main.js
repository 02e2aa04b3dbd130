// The component's entry point: `wasi:cli/run` answering with `provide`.
import * as sdk from 'credential-provider-sdk/run';

import { provide } from './exchange.js';

export const run = sdk.run(provide);
