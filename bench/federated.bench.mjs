// Federated training of the site model: what a device's update weighs and costs, by the length of
// its log, and what closing a round costs the collector, by the number of updates.
import { execFileSync } from 'node:child_process';

execFileSync(process.execPath, ['--import', 'tsx', new URL('./federated/rounds.ts', import.meta.url).pathname], { stdio: 'inherit' });
